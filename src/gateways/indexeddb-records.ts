// The record layout of an indexeddb:// database, shared by the gateway and its LocalStorage
// duties: three object stores, their keys, and checked reads of what they hold.
// docs/gateways.md ("indexeddb://") describes the layout.
import { CID } from "../blocks/cid.js";
import { CorruptError } from "../util/errors.js";
import { EMPTY_HEADS } from "./apply-head-update.js";
import type { HeadSet } from "./gateway.js";
import { request } from "./idb-batch.js";

export const COMMITS = "commits";
export const HEADS = "heads";
export const LOCAL = "local";
export const STORES = [COMMITS, HEADS, LOCAL];

// Keys: commits [ledger, cid], heads ledger, local [ledger, kind, name]. An array sorts after
// every string, so [ledger] .. [ledger, []] bounds all of one ledger's keys.
/** The device's writer key: a number sorts before every string, so no ledger's range holds it. */
export const WRITER_KEY = [0, "writer"];
export const ledgerRange = (ledger: string): IDBKeyRange =>
  IDBKeyRange.bound([ledger], [ledger, []]);

export async function readHeads(
  tx: IDBTransaction,
  ledger: string,
): Promise<HeadSet> {
  const stored = await request<unknown>(tx.objectStore(HEADS).get(ledger));
  if (stored === undefined) return EMPTY_HEADS;
  if (!Array.isArray(stored) || stored.some((s) => typeof s !== "string"))
    throw new CorruptError(
      `heads of ${JSON.stringify(ledger)}`,
      "not a list of cids",
    );
  return Object.freeze((stored as string[]).map(parseCid));
}

export function parseCid(text: string): CID {
  try {
    return CID.parse(text);
  } catch (error) {
    throw new CorruptError(`cid ${text}`, "not a cid", { cause: error });
  }
}

export function asBytes(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array))
    throw new CorruptError("indexeddb record", "not bytes");
  return value;
}

export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
