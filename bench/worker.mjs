// Child-process entry: runs ONE (system, workload) and reports over IPC, so each
// measurement gets a fresh heap, fresh caches and its own RSS.
//   spec (argv[2], JSON): { system, workload, dir, seed, docs, batch, ... }
import { performance } from "node:perf_hooks";
import { workloads } from "./workloads.mjs";

const spec = JSON.parse(process.argv[2] ?? "{}");

function reply(msg) {
  // exit as soon as the message is out: some libraries keep timers alive after close()
  if (process.send) process.send(msg, () => process.exit(0));
  else {
    console.log(JSON.stringify(msg));
    process.exit(0);
  }
}

try {
  const t0 = performance.now();
  const sys = await import(`./systems/${spec.system}.mjs`);
  const info = await sys.load();
  const importMs = performance.now() - t0;
  if (spec.workload === "probe") {
    reply({ ok: true, result: { ...info, importMs } });
  } else {
    const fn = workloads[spec.workload];
    if (!fn) throw new Error(`unknown workload ${spec.workload}`);
    const result = await fn(sys, spec);
    reply({ ok: true, result: { ...result, importMs } });
  }
} catch (e) {
  reply({ ok: false, error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
}
