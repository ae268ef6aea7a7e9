// The golden fixtures in Chromium, through the browser entry (WebCrypto, @noble/hashes,
// fflate): the recorded scenario must seal to the same bytes, and the recorded commits must
// read. The Node side passes in whatever test/golden.test.ts reads (golden.json), so this
// follows the fixtures when the format changes.
import { CID } from "multiformats/cid";
import {
  memoryGateway,
  indexedDbGateway,
  openLedger,
} from "../../../src/index.browser.js";
import type { Gateway } from "../../../src/index.browser.js";
import { fromBase64url, toBase64url } from "../../../src/util/bytes.js";
import {
  treeDocs,
  useGoldenWriter,
  writeScenario,
} from "../../fixtures/golden/scenario.js";
import { plain } from "./plain.js";

interface Golden {
  key: string;
  clocks: string[][];
  commits: Record<string, string>;
}

let rooms = 0;
const openMemory = (url: string) =>
  memoryGateway.open(memoryGateway.parse(new URL(url)));

async function store(url: string, recorded: Golden): Promise<void> {
  const factory = url.startsWith("memory:") ? memoryGateway : indexedDbGateway;
  const gateway: Gateway = await (
    factory.open as (o: unknown) => Promise<Gateway>
  )(factory.parse(new URL(url)));
  for (const [cid, bytes] of Object.entries(recorded.commits))
    await gateway.putCommit("golden", CID.parse(cid), fromBase64url(bytes)!);
  await gateway.putHeads("golden", {
    add: recorded.clocks.at(-1)!.map((c) => CID.parse(c)),
    remove: [],
  });
  await gateway.local!.putKey("golden", recorded.key);
  await gateway.close();
}

Object.assign(globalThis, {
  kiln: {
    /** Writes the scenario on a fresh memory room; the clocks and every commit's bytes. */
    async sealScenario(key: string) {
      const url = `memory://golden-${++rooms}`;
      // As test/golden.test.ts seals it: the golden writer, a membered ledger.
      await useGoldenWriter(openMemory, url);
      const ledger = await openLedger("golden", {
        storage: url,
        key,
        members: true,
      });
      const clocks = await writeScenario(ledger);
      await ledger.close();
      const gateway = await memoryGateway.open(
        memoryGateway.parse(new URL(url)),
      );
      const commits: Record<string, string> = {};
      for (const cid of await gateway.local!.listCommits("golden"))
        commits[cid.toString()] = toBase64url(
          (await gateway.getCommit("golden", cid))!,
        );
      await gateway.close();
      return { clocks, commits };
    },
    async treeClock(key: string) {
      const url = `memory://golden-tree-${++rooms}`;
      await useGoldenWriter(openMemory, url);
      const ledger = await openLedger("tree", { storage: url, key });
      await ledger.bulk(treeDocs());
      const clock = ledger.clock;
      await ledger.close();
      return clock;
    },
    /** The history of `id` and the docs at `clock`, read from recorded commits in IndexedDB. */
    async auditRecorded(recorded: Golden, id: string, clock: string[]) {
      const url = `indexeddb://golden-audit-${Date.now()}-${++rooms}`;
      await store(url, recorded);
      const ledger = await openLedger("golden", { storage: url });
      const result = {
        history: plain(await ledger.history(id)),
        past: plain((await (await ledger.at(clock)).allDocs()).rows),
      };
      await ledger.close();
      return result;
    },
    /** Stores recorded commits in IndexedDB and reads them back through a ledger. */
    async readRecorded(recorded: Golden) {
      const url = `indexeddb://golden-${Date.now()}-${++rooms}`;
      await store(url, recorded);
      try {
        const ledger = await openLedger("golden", { storage: url });
        const result = {
          clock: ledger.clock,
          docs: plain((await ledger.allDocs()).rows),
          changes: (await ledger.changes()).rows.map((r) => r.id),
        };
        await ledger.close();
        return result;
      } catch (error) {
        return { error: (error as { code?: string }).code ?? String(error) };
      }
    },
  },
});
