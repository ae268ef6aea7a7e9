// Where a SyncServer is, parsed once from the URL the app passed to connect(): the same base
// URL serves HTTP and WebSocket, so ws://h/p and http://h/p name one server.
import { InvalidUrlError } from "../util/errors.js";

export interface ServerEndpoint {
  /** The server as the app named it (scheme, host and path of its URL), for messages. */
  readonly shownUrl: string;
  /** http(s)://host[:port]/path — the base URL HTTP requests are posted to. */
  readonly httpUrl: string;
  /** ws(s)://host[:port]/path — the same base for WebSocket upgrades. */
  readonly wsUrl: string;
  /** The remote ledger's name. */
  readonly ledger: string;
  /** A transport the URL forces (?transport=ws|http), else undefined: negotiate. */
  readonly transport: "ws" | "http" | undefined;
  readonly token: string | undefined;
}

export function parseServerEndpoint(
  url: URL,
  localLedger: string,
  token: string | undefined,
): ServerEndpoint {
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol))
    throw new InvalidUrlError(url.href, "expected http(s):// or ws(s)://");
  if (url.username !== "" || url.password !== "")
    throw new InvalidUrlError(
      url.href,
      "credentials do not belong in the url: pass { token }",
    );
  if (url.hash !== "")
    throw new InvalidUrlError(url.href, "a server url takes no fragment");
  let ledger = localLedger;
  let transport: "ws" | "http" | undefined;
  for (const [k, v] of url.searchParams) {
    if (k === "ledger") {
      if (v === "") throw new InvalidUrlError(url.href, "?ledger= is empty");
      ledger = v;
    } else if (k === "transport") {
      if (v !== "ws" && v !== "http")
        throw new InvalidUrlError(url.href, "?transport= must be ws or http");
      transport = v;
    } else
      throw new InvalidUrlError(
        url.href,
        `unknown option ?${k}= (known: ledger, transport)`,
      );
  }
  const rest = `//${url.host}${url.pathname}`;
  return {
    shownUrl: `${url.protocol}${rest}`,
    httpUrl: `${secure ? "https:" : "http:"}${rest}`,
    wsUrl: `${secure ? "wss:" : "ws:"}${rest}`,
    ledger,
    transport,
    token,
  };
}
