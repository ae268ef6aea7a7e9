// The path rules a file:// URL must pass before any gateway reads its query. Kept apart so the
// folder remote refuses exactly what the local file gateway refuses; the query is each
// gateway's own.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidUrlError } from "../util/errors.js";

/** The absolute, normalised folder a file:// URL names; throws InvalidUrlError otherwise. */
export function folderOfFileUrl(url: URL): string {
  const text = url.href;
  if (url.protocol !== "file:")
    throw new InvalidUrlError(text, "expected file:///absolute/path");
  if (url.host === "." || url.host === "..")
    throw new InvalidUrlError(
      text,
      "relative paths are not allowed; use file:///absolute/path",
    );
  if (url.host !== "")
    throw new InvalidUrlError(
      text,
      `file urls name a local folder, not host ${JSON.stringify(url.host)}; use file:///absolute/path`,
    );
  if (url.username !== "" || url.password !== "" || url.port !== "")
    throw new InvalidUrlError(text, "file urls take no credentials or port");
  if (url.hash !== "")
    throw new InvalidUrlError(text, "file urls take no fragment");
  let dir: string;
  try {
    // Percent-decodes the path, and refuses an encoded "/" that would change its meaning.
    dir = fileURLToPath(url);
  } catch {
    throw new InvalidUrlError(text, "not a usable local path");
  }
  if (!path.isAbsolute(dir))
    throw new InvalidUrlError(
      text,
      "relative paths are not allowed; use file:///absolute/path",
    );
  return path.resolve(dir);
}
