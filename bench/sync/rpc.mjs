// The sync workloads' processes talk over Node's IPC channel: the coordinator (in run.mjs's
// process) calls a named method in a child and awaits its reply. Nothing measured rides on
// this channel: children stamp their own times with timing.now() and send the stamps back.
import { fork } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Fork `file` as a child speaking this protocol. `onLine` gets every line it prints (the
 * harness forwards them to stderr and collects library errors for the report).
 */
export function spawnChild(file, args, { name, onLine, env = process.env }) {
  const child = fork(file, args, {
    env,
    // e.g. BENCH_SYNC_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them
    execArgv: (env.BENCH_SYNC_NODE_ARGS ?? "").split(" ").filter(Boolean),
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const pending = new Map();
  const lineWaiters = new Set();
  let nextId = 0;
  let exit;
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      const why = `${name} exited (code ${code}, signal ${signal})`;
      for (const p of pending.values())
        p.reject(new Error(`${why} during ${p.method}`));
      pending.clear();
      for (const w of lineWaiters) w.reject(new Error(`${why} before ${w.re}`));
      lineWaiters.clear();
      resolve(exit);
    }),
  );
  child.on("error", (e) => onLine?.(`${name}: ${e.message}`));
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on("line", (line) => {
      onLine?.(line);
      for (const w of lineWaiters) {
        const m = w.re.exec(line);
        if (m) {
          lineWaiters.delete(w);
          w.resolve(m);
        }
      }
    });
  child.on("message", (m) => {
    const p = pending.get(m?.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${name}.${p.method}: ${m.error}`));
  });

  return {
    name,
    pid: child.pid,
    exited,
    /** Call `method` in the child; rejects after `timeoutMs` or if the child dies. */
    call(method, params = {}, timeoutMs = 120_000) {
      if (exit)
        return Promise.reject(
          new Error(
            `${name} has exited (code ${exit.code}, signal ${exit.signal})`,
          ),
        );
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(
            new Error(
              `${name}.${method} timed out after ${timeoutMs / 1000} s`,
            ),
          );
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer, method });
        child.send({ id, method, params });
      });
    },
    /** Resolves with the match of the first output line matching `re`. */
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const w = { re, resolve, reject };
        const timer = setTimeout(() => {
          lineWaiters.delete(w);
          reject(
            new Error(
              `${name} printed no line matching ${re} within ${timeoutMs / 1000} s`,
            ),
          );
        }, timeoutMs);
        w.resolve = (m) => (clearTimeout(timer), resolve(m));
        w.reject = (e) => (clearTimeout(timer), reject(e));
        if (exit) w.reject(new Error(`${name} has exited`));
        else lineWaiters.add(w);
      });
    },
    /** Ask the child to end (close its clients / server), then make sure it does. */
    async stop(graceMs = 5000) {
      if (exit) return exit;
      try {
        if (child.connected) await this.call("close", {}, graceMs);
      } catch {
        // a child that cannot close cleanly is killed below
      }
      // a disconnected child exits by itself (serveCalls); signals only if it does not
      if (child.connected) child.disconnect();
      const later = (ms, signal) =>
        setTimeout(() => exit || child.kill(signal), ms);
      const timers = [later(graceMs, "SIGTERM"), later(2 * graceMs, "SIGKILL")];
      await exited;
      for (const t of timers) clearTimeout(t);
      return exit;
    },
  };
}

/**
 * Child side: answer the coordinator's calls with `handlers[method](params)`. A child
 * whose coordinator goes away (disconnect) exits after `onDisconnect` ran.
 */
export function serveCalls(handlers, onDisconnect) {
  process.on("message", async ({ id, method, params }) => {
    let reply;
    try {
      const fn = handlers[method];
      if (!fn) throw new Error(`unknown method ${method}`);
      reply = { id, ok: true, result: (await fn(params)) ?? {} };
    } catch (e) {
      reply = {
        id,
        ok: false,
        error: e instanceof Error ? e.message : String(e),
      };
    }
    // the coordinator may have stopped waiting (a timed-out close) and disconnected
    if (process.connected) process.send(reply, () => {});
  });
  process.on("disconnect", () => {
    Promise.resolve(onDisconnect?.())
      .catch(() => {})
      .finally(() => setTimeout(() => process.exit(0), 200).unref());
  });
}
