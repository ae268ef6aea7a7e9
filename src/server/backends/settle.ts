/** Runs a synchronous step as a promise: a throw becomes a rejection, as callers of an async API expect. */
export function settle<T>(step: () => T): Promise<T> {
  // The executor runs at once, and a throw in it rejects the promise.
  return new Promise<T>((resolve) => resolve(step()));
}
