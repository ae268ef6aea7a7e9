// The browser's TabLink: the tab holding the Web Lock `kiln-lead:<name>` leads the remote;
// the tabs talk over the BroadcastChannel of the same name. Messages:
//   {t: "report", report}   leader → all, on every change and when a tab says hello
//   {t: "hello"}            follower → leader: send me your report
//   {t: "sync", id}         follower → leader: sync, then answer
//   {t: "synced", id, error?}
//   {t: "leader"}           a new leader: ask me again what the last one left unanswered
import type { LeaderReport, TabLink } from "../sync/tab-link.js";

type Message =
  | { t: "report"; report: LeaderReport }
  | { t: "hello" }
  | { t: "sync"; id: string }
  | { t: "synced"; id: string; error?: string }
  | { t: "leader" };

interface Asked {
  resolve(outcome: "done" | "lead"): void;
  reject(error: Error): void;
}

/** Undefined where the platform lacks Web Locks or BroadcastChannel. */
export function createWebTabLink(name: string): TabLink | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } })
    .navigator?.locks;
  if (!locks || typeof BroadcastChannel !== "function") return undefined;
  const channel = new BroadcastChannel(`kiln-lead:${name}`);
  const reportListeners = new Set<(report: LeaderReport) => void>();
  const asked = new Map<string, Asked>();
  let leading = false;
  let last: LeaderReport | undefined;
  let serve: (() => Promise<void>) | undefined;
  let closed = false;
  const post = (message: Message) => {
    if (!closed) channel.postMessage(message);
  };
  channel.onmessage = (event: MessageEvent<Message>) => {
    const message = event.data;
    switch (message.t) {
      case "report":
        if (leading) return;
        last = message.report;
        for (const l of reportListeners) l(message.report);
        return;
      case "hello":
        if (leading && last) post({ t: "report", report: last });
        return;
      case "sync":
        if (!leading || !serve) return;
        serve().then(
          () => post({ t: "synced", id: message.id }),
          (error: unknown) =>
            post({
              t: "synced",
              id: message.id,
              error: error instanceof Error ? error.message : String(error),
            }),
        );
        return;
      case "synced": {
        const waiter = asked.get(message.id);
        if (!waiter) return;
        asked.delete(message.id);
        if (message.error === undefined) waiter.resolve("done");
        else
          waiter.reject(new Error(`sync in the leading tab: ${message.error}`));
        return;
      }
      case "leader":
        for (const id of asked.keys()) post({ t: "sync", id });
        return;
    }
  };
  post({ t: "hello" });
  return {
    lead: (signal) =>
      new Promise((resolve, reject) => {
        locks
          .request(`kiln-lead:${name}`, { signal }, () => {
            leading = true;
            last = undefined;
            // What other tabs asked of the last leader is now this tab's to do itself.
            for (const waiter of asked.values()) waiter.resolve("lead");
            asked.clear();
            post({ t: "leader" });
            return new Promise<void>((release) =>
              resolve(() => {
                leading = false;
                release();
              }),
            );
          })
          .catch((error: unknown) =>
            reject(error instanceof Error ? error : new Error(String(error))),
          );
      }),
    report: (report) => {
      last = report;
      post({ t: "report", report });
    },
    onReport: (listener) => {
      reportListeners.add(listener);
      if (last && !leading) listener(last);
      return () => reportListeners.delete(listener);
    },
    requestSync: () => {
      if (leading) return Promise.resolve("lead");
      const id = crypto.randomUUID();
      return new Promise((resolve, reject) => {
        asked.set(id, { resolve, reject });
        post({ t: "sync", id });
      });
    },
    serveSync: (sync) => {
      serve = sync;
    },
    close: () => {
      closed = true;
      channel.close();
      for (const waiter of asked.values())
        waiter.reject(new Error("the tab link is closed"));
      asked.clear();
    },
  };
}
