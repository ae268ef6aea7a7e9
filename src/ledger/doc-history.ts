// ledger.history(id): every version of one doc the ledger's history holds, newest first,
// each with the commit that wrote it, its writer and height. The clock (in memory, kept by
// every checkpoint) is the index: its events list the ids each commit wrote and the fields
// each put changed, so finding a doc's versions decrypts nothing; only the commits that
// wrote the doc are then read and opened, one each. A commit compaction let go is still
// named by the clock: its version is listed as dropped, with what the clock knows of it.
// A void commit (a removed writer's that its removal does not follow) wrote nothing, so it
// is not a version; `kiln verify` lists every commit.
import { CID } from "multiformats/cid";
import type { CryptoProvider } from "../blocks/crypto.js";
import type { ClockEvent } from "../crdt/clock.js";
import { compareEvents } from "../crdt/clock.js";
import type { Gateway } from "../gateways/gateway.js";
import { encodeWriter } from "../trust/signing.js";
import { openCommit } from "./commit-reader.js";
import { decodeDocBody } from "./block-source.js";
import type { Doc, DocFields } from "./doc.js";
import type { StateLoader } from "./state-loader.js";

/** What every entry of a doc's history names: the commit that wrote it and its height. */
interface VersionOf {
  /** The commit CID. */
  cid: string;
  /** The commit's height in the Merkle clock (1 for a commit with no parents). */
  height: number;
}

/**
 * One version of a doc in its history (`ledger.history(id)`): a put (the whole doc as that
 * commit wrote it, and the top-level fields it changed), a deletion, or a version whose
 * commit compaction let go (`dropped`: the clock still names it, its doc and writer are
 * gone).
 */
export type DocVersion<T extends object = DocFields> =
  | (VersionOf & {
      kind: "put";
      /** The writer's public key as text (see `encodeWriter`). */
      writer: string;
      /** The doc as this commit wrote it (the schema, if any, is not applied). */
      doc: Doc<T>;
      /**
       * The top-level fields this put changed against the version it replaced (set or
       * removed), sorted; every field of the doc for a put over no live version.
       */
      fields: string[];
    })
  | (VersionOf & {
      kind: "del";
      /** The writer's public key as text. */
      writer: string;
    })
  | (VersionOf & {
      kind: "dropped";
      /** The fields the put changed, when the clock recorded them (a put over a live version). */
      fields?: string[];
    });

export interface DocHistoryParts {
  ledger: string;
  storage: Gateway;
  loader: StateLoader;
  crypto: CryptoProvider;
  key: Uint8Array;
  /** The key a commit names (envelope `k`): the ledger's key ring, after a rotation. */
  keys?: (keyId: Uint8Array | undefined) => Uint8Array;
  /** True for a commit that counts for nothing (membership: a removed writer's). */
  isVoid: (cid: string) => boolean;
}

/** The versions of `id`, newest first (height, then commit CID, both descending). */
export async function docHistory<T extends object = DocFields>(
  parts: DocHistoryParts,
  id: string,
): Promise<DocVersion<T>[]> {
  const { ledger, storage, loader, crypto, key } = parts;
  const keyFor = parts.keys ?? key;
  await loader.ready();
  const events: ClockEvent[] = [];
  for (const e of loader.state.clock.events())
    if (e.ids.includes(id) && !parts.isVoid(e.cid)) events.push(e);
  events.sort((a, b) => compareEvents(b, a));
  const out: DocVersion<T>[] = [];
  for (const e of events) {
    const at = { cid: e.cid, height: e.height };
    const recorded = e.fields?.[e.ids.indexOf(id)];
    const cid = CID.parse(e.cid);
    const bytes = await storage.getCommit(ledger, cid);
    if (!bytes) {
      out.push({
        kind: "dropped",
        ...at,
        ...(recorded ? { fields: [...recorded] } : {}),
      });
      continue;
    }
    const opened = await openCommit(crypto, keyFor, cid, bytes);
    const writer = encodeWriter(opened.writer);
    const docBytes = opened.docs.get(id);
    if (!docBytes) {
      out.push({ kind: "del", ...at, writer });
      continue;
    }
    const body = decodeDocBody(
      docBytes,
      `doc ${JSON.stringify(id)} in commit ${e.cid}`,
    );
    out.push({
      kind: "put",
      ...at,
      writer,
      doc: { _id: id, ...body } as Doc<T>,
      fields: recorded ? [...recorded] : Object.keys(body).sort(),
    });
  }
  return out;
}
