// Child-process entry: runs ONE (system, workload) and reports over IPC, so each
// measurement gets a fresh heap, fresh caches and its own RSS. A workload may report its
// numbers early ({ partial: true }) before an untimed close(); the final message follows.
// (The sync workloads run their own processes, see sync/scenarios.mjs; here they are only
// probed: "syncProbe" loads a sync adapter and checks that the build can sync.)
//   spec (argv[2], JSON): { system, workload, dir, seed, docs, batch, ... }
import { performance } from "node:perf_hooks";
import { workloads } from "./workloads.mjs";

const spec = JSON.parse(process.argv[2] ?? "{}");

/** An early result: the measurement is done, only cleanup (close) follows. */
const io = {
  /** Resolves once the message is handed to the IPC channel, before any cleanup starts. */
  report(result) {
    return new Promise((sent) =>
      process.send
        ? process.send({ ok: true, partial: true, result }, () => sent())
        : sent(),
    );
  },
};

function reply(msg) {
  // Then let the process end by itself, as an app's would: some close() calls resolve
  // before their last writes land, and a forced exit would cut those off (a store that
  // is reopened next must be complete). A library that keeps the loop alive with timers
  // gets a few seconds, then the process exits anyway.
  const end = () => setTimeout(() => process.exit(0), 3000).unref();
  if (process.send)
    process.send(msg, () => {
      process.disconnect();
      end();
    });
  else {
    console.log(JSON.stringify(msg));
    end();
  }
}

try {
  const t0 = performance.now();
  if (spec.workload === "syncProbe") {
    const sync = await import(`./sync/adapters/${spec.system}.mjs`);
    const info = await sync.load();
    await sync.probe();
    reply({ ok: true, result: { ...info, importMs: performance.now() - t0 } });
  } else {
    const sys = await import(`./systems/${spec.system}.mjs`);
    const info = await sys.load();
    const importMs = performance.now() - t0;
    if (spec.workload === "probe") {
      reply({ ok: true, result: { ...info, importMs } });
    } else {
      const fn = workloads[spec.workload];
      if (!fn) throw new Error(`unknown workload ${spec.workload}`);
      const result = await fn(sys, spec, io);
      reply({ ok: true, result: { ...result, importMs } });
    }
  }
} catch (e) {
  reply({
    ok: false,
    error: e instanceof Error ? e.message : String(e),
    stack: e instanceof Error ? e.stack : undefined,
  });
}
