// The revoked token ids a backend process knows, and who to tell of new ones. Memory and
// embedded backends keep the set here (embedded also in a file); Postgres uses it for its
// watchers, fed by NOTIFY.
import { InvalidArgumentError } from "../../util/errors.js";

/** A token id (jti) is 1–128 characters of base64url. */
export function checkTokenId(id: string): void {
  if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(id))
    throw new InvalidArgumentError(
      "revoke token: a token id is 1 to 128 characters of base64url",
    );
}

export class RevocationSet {
  readonly #ids = new Set<string>();
  readonly #watchers = new Set<(id: string) => void>();

  /** Adds `id`; true when it is new here. Tells the watchers either way (they may repeat). */
  add(id: string): boolean {
    const fresh = !this.#ids.has(id);
    this.#ids.add(id);
    for (const watcher of [...this.#watchers]) {
      try {
        watcher(id);
      } catch {
        // One failing watcher must not keep the others from hearing.
      }
    }
    return fresh;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  list(): string[] {
    return [...this.#ids];
  }

  watch(onRevoked: (id: string) => void): () => void {
    this.#watchers.add(onRevoked);
    return () => this.#watchers.delete(onRevoked);
  }

  clear(): void {
    this.#watchers.clear();
  }
}
