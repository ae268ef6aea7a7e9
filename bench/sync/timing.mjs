// Time stamps that compare across processes, latency summaries, another process's RSS,
// installed versions.
import { readFileSync } from "node:fs";

/**
 * Milliseconds on the machine's monotonic clock (process.hrtime is CLOCK_MONOTONIC on
 * Linux): a write stamped in one process and its arrival stamped in another subtract
 * directly, with no clock-sync error and no IPC hop on the clock.
 */
export function now() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The p-th percentile (0-100) of a sorted array, nearest-rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** p50, p99, mean and max of a list of latencies (ms). */
export function summarize(latencies) {
  const v = [...latencies].sort((a, b) => a - b);
  return {
    n: v.length,
    p50: percentile(v, 50),
    p99: percentile(v, 99),
    mean: v.reduce((a, x) => a + x, 0) / (v.length || 1),
    max: v[v.length - 1],
  };
}

/** Resident set size of another process, from /proc (Linux); undefined elsewhere. */
export function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) / 1024 : undefined;
    };
    return { rssMiB: kib("VmRSS"), peakMiB: kib("VmHWM") };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) another process has used so far, from /proc (Linux). */
export function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the ")" that ends the command name; utime and stime are 14 and 15
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** The version of a package installed in bench/node_modules (some export no package.json). */
export function version(name) {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}
