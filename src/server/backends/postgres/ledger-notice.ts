// The NOTIFY payload that tells every server process a ledger changed: CIDs, never bytes
// (Postgres refuses payloads of 8000 bytes or more). A put's CIDs are split over as many
// notices as they need, all sent by its transaction; Postgres delivers a transaction's
// notices together, in order, at commit. One notice is one line of header and one of CIDs:
//
//   k1 <sender> <seq> <part>/<parts> <ledger key>
//   <cid> <cid> …
//
// `sender` names the backend instance that made the put and `seq` the put, so that instance
// can tell its own notices (it reported those changes already) from everyone else's.

/** Payload bytes allowed per notice (Postgres' limit is 8000, header included). */
export const NOTICE_BYTES = 7900;
const VERSION = "k1";

export interface LedgerNotice {
  readonly sender: string;
  readonly seq: number;
  /** 1-based. */
  readonly part: number;
  readonly parts: number;
  readonly ledgerKey: string;
  readonly cids: readonly string[];
}

/** The notices of one put. `ledgerKey` and `sender` are ASCII without space or newline. */
export function encodeLedgerNotices(
  sender: string,
  seq: number,
  ledgerKey: string,
  cids: readonly string[],
): string[] {
  // Room for the largest header: part numbers stay below 10^6.
  const room =
    NOTICE_BYTES -
    `${VERSION} ${sender} ${seq} 999999/999999 ${ledgerKey}\n`.length;
  const groups: string[][] = [[]];
  let size = 0;
  for (const cid of cids) {
    const cost = cid.length + 1;
    const group = groups[groups.length - 1]!;
    if (group.length > 0 && size + cost > room) {
      groups.push([cid]);
      size = cost;
    } else {
      group.push(cid);
      size += cost;
    }
  }
  return groups.map(
    (group, i) =>
      `${VERSION} ${sender} ${seq} ${i + 1}/${groups.length} ${ledgerKey}\n${group.join(" ")}`,
  );
}

/** A notice, or undefined when the payload is not one (another program on the channel). */
export function decodeLedgerNotice(payload: string): LedgerNotice | undefined {
  const newline = payload.indexOf("\n");
  if (newline < 0) return undefined;
  const header = payload.slice(0, newline).split(" ");
  if (header.length !== 5 || header[0] !== VERSION) return undefined;
  const [, sender, seqText, partText, ledgerKey] = header as [
    string,
    string,
    string,
    string,
    string,
  ];
  const match = /^(\d{1,6})\/(\d{1,6})$/.exec(partText);
  const seq = Number(seqText);
  if (!match || !/^\d+$/.test(seqText) || !Number.isSafeInteger(seq))
    return undefined;
  const part = Number(match[1]);
  const parts = Number(match[2]);
  if (part < 1 || part > parts || sender === "" || ledgerKey === "")
    return undefined;
  const body = payload.slice(newline + 1);
  return {
    sender,
    seq,
    part,
    parts,
    ledgerKey,
    cids: body === "" ? [] : body.split(" "),
  };
}

/** A put's notices joined again: the put's CIDs, once its last part has come. */
export class NoticeAssembler {
  // Parts of one put arrive together; a few incomplete puts at most are kept, in case.
  readonly #pending = new Map<string, string[][]>();

  add(
    notice: LedgerNotice,
  ):
    | { sender: string; seq: number; ledgerKey: string; cids: string[] }
    | undefined {
    const { sender, seq, ledgerKey } = notice;
    if (notice.parts === 1)
      return { sender, seq, ledgerKey, cids: [...notice.cids] };
    const id = `${sender} ${seq}`;
    let parts = this.#pending.get(id);
    if (!parts) {
      parts = [];
      this.#pending.set(id, parts);
      for (const old of this.#pending.keys()) {
        if (this.#pending.size <= 16) break;
        this.#pending.delete(old);
      }
    }
    parts[notice.part - 1] = [...notice.cids];
    let got = 0;
    for (const p of parts) if (p) got++;
    if (got < notice.parts) return undefined;
    this.#pending.delete(id);
    return { sender, seq, ledgerKey, cids: parts.flat() };
  }

  /** Forgets incomplete puts (after a lost connection, their other parts will not come). */
  clear(): void {
    this.#pending.clear();
  }
}
