// The budgets a SyncServer keeps to, with their defaults (docs/deploy.md lists them). Each is
// a bound on what one client, or all of them together, can make the server hold or do.

/**
 * Most bytes of a request read before the client proved who it is, on a server with a secret:
 * an HTTP body without a verified Authorization header, and each WebSocket message before a
 * hello's tokens verified (a hello with its tokens fits easily).
 */
export const UNAUTHENTICATED_BODY = 64 * 1024;

export interface ServerLimits {
  /** Outgoing bytes one WebSocket may have queued before its next send waits. */
  maxQueuedBytes: number;
  /** Outgoing messages one WebSocket may have queued before its next send waits. */
  maxQueuedMessages: number;
  /** Outgoing bytes queued by all WebSockets together; over it, the largest holder is dropped. */
  maxQueuedBytesTotal: number;
  /** Milliseconds a waiting send tolerates without progress before the socket is dropped. */
  stallTimeout: number;
  /** Requests one WebSocket may have received and not answered before it is no longer read. */
  maxPendingRequests: number;
  /** Open connections (HTTP and WebSocket) in all; more are refused at once. */
  maxConnections: number;
  /** Open connections from one client address; more are refused at once. */
  maxConnectionsPerAddress: number;
  /** Milliseconds for a request's headers to arrive. */
  headersTimeout: number;
  /** Milliseconds for a whole request (headers and body) to arrive. */
  requestTimeout: number;
  /** Commit bytes one ledger may take per second from pushes, in this process. */
  pushBytesPerSecond: number;
  /** What a ledger may push at once after being idle (its token bucket's size). */
  pushBurst: number;
  /**
   * Commit bytes one ledger may hold in the backend (its storage quota; `over-quota` past
   * it); Infinity for none.
   */
  ledgerQuota: number;
}

/** The defaults for a given maxMessage (one message must always fit a connection's queue). */
export function defaultLimits(maxMessage: number): ServerLimits {
  return {
    maxQueuedBytes: 2 * maxMessage,
    maxQueuedMessages: 1024,
    maxQueuedBytesTotal: 256 * 1024 * 1024,
    stallTimeout: 30_000,
    maxPendingRequests: 256,
    maxConnections: 10_000,
    // The scale bench runs 1,000 clients on one loopback address.
    maxConnectionsPerAddress: 2_000,
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    pushBytesPerSecond: 16 * 1024 * 1024,
    pushBurst: 8 * maxMessage,
    ledgerQuota: 1024 * 1024 * 1024,
  };
}
