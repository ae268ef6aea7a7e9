import { InvalidUrlError } from "../util/errors.js";
import type { Gateway, GatewayFactory } from "./gateway.js";

export interface Registry {
  open(url: string): Promise<Gateway>;
  /** Parses without opening: a bad URL is refused before any I/O. */
  check(url: string): void;
}

export function createRegistry(
  factories: readonly GatewayFactory<unknown>[],
): Registry {
  const byScheme = new Map<string, GatewayFactory<unknown>>();
  for (const f of factories) for (const s of f.schemes) byScheme.set(s, f);

  const parse = (
    text: string,
  ): { factory: GatewayFactory<unknown>; options: unknown } => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new InvalidUrlError(text, "not a url");
    }
    const factory = byScheme.get(url.protocol);
    if (!factory)
      throw new InvalidUrlError(
        text,
        `no gateway for scheme ${url.protocol} (known: ${[...byScheme.keys()].join(", ")})`,
      );
    return { factory, options: factory.parse(url) };
  };

  return {
    check(url) {
      parse(url);
    },
    async open(url) {
      const { factory, options } = parse(url);
      return factory.open(options);
    },
  };
}
