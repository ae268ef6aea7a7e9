// A one-line progress bar for long CLI work (export, import, compact), drawn on a terminal
// only: redrawn in place with \r at most every 100 ms, and ended with a newline. Not a
// dependency: the few lines below do what cli-progress would (docs/deploy.md says why).
import type { OnProgress, Progress } from "../util/progress.js";

export interface Terminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressBar {
  /** Undefined when the stream is not a terminal: nothing is drawn. */
  readonly onProgress: OnProgress | undefined;
  /** Draws the last state and ends the line (if anything was drawn). */
  finish(): void;
}

const WIDTH = 30;
const EVERY_MS = 100;

export function createProgressBar(
  terminal: Terminal,
  now: () => number = Date.now,
): ProgressBar {
  if (!terminal.isTTY)
    return { onProgress: undefined, finish: () => undefined };
  let last: Progress | undefined;
  let drawnAt = -Infinity;
  const draw = () => {
    if (!last) return;
    terminal.write(`\r${formatProgress(last)}\x1b[K`);
    drawnAt = now();
  };
  return {
    onProgress: (progress) => {
      last = progress;
      if (now() - drawnAt >= EVERY_MS || progress.done === progress.total)
        draw();
    },
    finish: () => {
      if (!last) return;
      draw();
      terminal.write("\n");
      last = undefined;
    },
  };
}

/** `export [##########----------]  512/1024` (or a count alone when the total is unknown). */
export function formatProgress(p: Progress): string {
  if (p.total === undefined || p.total === 0) return `${p.phase} ${p.done}`;
  const ratio = Math.min(1, p.done / p.total);
  const filled = Math.round(ratio * WIDTH);
  return `${p.phase} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${p.done}/${p.total}`;
}
