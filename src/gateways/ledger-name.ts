// Names of a gateway's meta records. Ledger names themselves are checked and encoded by
// util/ledger-name.ts, which server backends share.
import { InvalidArgumentError } from "../util/errors.js";

/** Names of meta records: short, and safe as a file name on every platform. */
export function checkMetaName(name: string): string {
  if (typeof name !== "string" || !/^[a-z0-9-]{1,64}$/.test(name))
    throw new InvalidArgumentError(
      `meta: record name must be 1-64 characters of [a-z0-9-], got ${JSON.stringify(String(name).slice(0, 80))}`,
    );
  return name;
}
