// One session on one remote: push and pull run side by side (plus long-polls where the
// remote has no live push, and the wait for a better transport) until the first of them
// fails, the remote ends, a better remote opens, or the connection closes.
import type { Wakeup } from "../util/wakeup.js";
import type { SyncHost } from "./host.js";
import type { PullSide } from "./pull-side.js";
import type { PushSide } from "./push-side.js";
import type { Remote } from "./remote.js";
import type { StatusBoard } from "./status-board.js";

export type SessionEnd =
  | { readonly error: Error }
  | { readonly switchTo: Remote }
  | { readonly closed: true };

export interface SessionParts {
  readonly host: SyncHost;
  /** Absent when the connection only pulls. */
  readonly push: PushSide | undefined;
  /** Absent when the connection only pushes. */
  readonly pull: PullSide | undefined;
  readonly board: StatusBoard;
  readonly wake: Wakeup;
  /** Aborts when the connection closes. */
  readonly closing: AbortSignal;
  /** Resolves with a remote on a better transport, or undefined when `signal` aborts. */
  readonly upgrade:
    | ((current: Remote, signal: AbortSignal) => Promise<Remote | undefined>)
    | undefined;
}

export async function runSession(
  remote: Remote,
  parts: SessionParts,
): Promise<SessionEnd> {
  const { host, push, pull, board, wake, closing } = parts;
  const stop = new AbortController();
  let end: SessionEnd | undefined;
  const finish = (e: SessionEnd) => {
    end ??= e;
    stop.abort();
    wake.kick();
  };
  const fail = (error: unknown) => finish({ error: error as Error });
  const onClose = () => finish({ closed: true });
  closing.addEventListener("abort", onClose);
  if (closing.aborted) onClose();
  if (pull) remote.onLive = (event) => pull.onLive(event, fail);
  void remote.ended.then((error) => finish({ error }));
  const loops: Promise<unknown>[] = [];
  try {
    await host.ready();
    board.setStatus({ kind: "live", transport: remote.transport });
    // Push and pull run side by side. The pull's `have` includes the remote heads seen
    // last time (persisted), so the difference the remote sends is exact even while it
    // does not know the ledger's newest local commits yet.
    if (push) {
      push.want();
      loops.push(push.run(remote, stop.signal).catch(fail));
    }
    if (pull) {
      loops.push(pull.run(remote, stop.signal).catch(fail));
      if (remote.live === "poll")
        loops.push(pull.poll(remote, stop.signal).catch(fail));
    }
    if (parts.upgrade)
      loops.push(
        parts.upgrade(remote, stop.signal).then((better) => {
          // A session that ended meanwhile must not leak the new remote.
          if (better && end) void better.close();
          else if (better) finish({ switchTo: better });
        }, fail),
      );
  } catch (error) {
    fail(error);
  }
  while (!end) await wake.next;
  closing.removeEventListener("abort", onClose);
  remote.onLive = undefined;
  // Ends in-flight requests, so the loops settle (a remote being switched from too).
  await remote.close();
  wake.kick();
  await Promise.all(loops);
  return end;
}
