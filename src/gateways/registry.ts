// One registry maps URL schemes to gateway factories, for both uses of a URL: the storage a
// ledger is opened on, and the remotes it connects to. A URL is parsed once, here, into the
// factory's typed options. A scheme may have one factory per role (file: is the local store
// for openLedger and the shared-folder remote for connect()); a factory that declares no
// roles serves both.
import { InvalidUrlError } from "../util/errors.js";
import type { Gateway, GatewayFactory, GatewayRole } from "./gateway.js";

export interface Resolved {
  readonly url: URL;
  readonly factory: GatewayFactory<unknown>;
  readonly options: unknown;
}

/** Gateway factories by URL scheme: every storage and remote URL resolves through one. */
export interface Registry {
  /** Opens the gateway a URL names, for a role (default storage). */
  open(url: string, role?: GatewayRole): Promise<Gateway>;
  /** Parses without opening: a bad URL is refused before any I/O. */
  check(url: string, role?: GatewayRole): void;
  /**
   * The factory serving `url` in `role` and the URL parsed into its options. `prepare` may
   * take registry-independent parameters off the URL first (connect()'s ?ledger=).
   */
  resolve(
    url: string,
    role: GatewayRole,
    prepare?: (url: URL) => void,
  ): Resolved;
  /** The schemes registered for a role, for messages. */
  schemes(role: GatewayRole): string[];
}

/** A registry of the given gateway factories (a later factory for a scheme replaces an earlier one). */
export function createRegistry(
  factories: readonly GatewayFactory<unknown>[],
): Registry {
  const byRole: Record<GatewayRole, Map<string, GatewayFactory<unknown>>> = {
    storage: new Map(),
    remote: new Map(),
  };
  for (const f of factories)
    for (const role of f.roles ?? (["storage", "remote"] as const))
      for (const s of f.schemes) byRole[role].set(s, f);

  const resolve: Registry["resolve"] = (text, role, prepare) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new InvalidUrlError(text, "not a url");
    }
    const factory = byRole[role].get(url.protocol);
    if (!factory)
      throw new InvalidUrlError(
        text,
        `no ${role === "storage" ? "gateway" : "remote"} for scheme ${url.protocol} (registered: ${[...byRole[role].keys()].join(", ") || "none"})`,
      );
    prepare?.(url);
    return { url, factory, options: factory.parse(url) };
  };

  return {
    resolve,
    check(url, role = "storage") {
      resolve(url, role);
    },
    async open(url, role = "storage") {
      const { factory, options } = resolve(url, role);
      return factory.open(options);
    },
    schemes: (role) => [...byRole[role].keys()],
  };
}
