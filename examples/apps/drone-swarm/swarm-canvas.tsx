// The swarm on a canvas, redrawn every animation frame from the telemetry's positions (no
// React render per fix: at 500 fixes a second the canvas reads the latest state itself).
import { useEffect, useRef } from "react";
import type { Telemetry } from "./telemetry.js";

const COLORS = ["#1c64c4", "#d9480f", "#2b9a4a", "#9c36b5", "#e8590c"];

export function SwarmCanvas({ telemetry }: { telemetry: Telemetry }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let frame = 0;
    const draw = () => {
      const c = canvas.current?.getContext("2d");
      if (c) {
        const { width, height } = c.canvas;
        c.fillStyle = "#0f1726";
        c.fillRect(0, 0, width, height);
        for (const p of telemetry.positions.values()) {
          const squad = Number(p.squad.replace(/\D/g, "")) || 0;
          c.fillStyle = COLORS[squad % COLORS.length]!;
          c.save();
          c.translate(p.x * width, p.y * height);
          c.rotate(p.heading);
          c.beginPath();
          c.moveTo(7, 0);
          c.lineTo(-5, 4);
          c.lineTo(-5, -4);
          c.fill();
          c.restore();
        }
      }
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(frame);
  }, [telemetry]);
  return (
    <canvas
      ref={canvas}
      width={480}
      height={480}
      data-testid="swarm"
      aria-label="drone positions"
    />
  );
}
