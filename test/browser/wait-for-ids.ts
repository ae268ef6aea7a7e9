// Resolves once a ledger holds every id, woken by subscribe (no polling). Shared by pages
// (bundled for Chromium) and the Node side of the browser tests.
interface Watchable {
  allDocs(): Promise<{ rows: { id: string }[] }>;
  subscribe(listener: () => void): () => void;
}

export async function waitForIds(
  ledger: Watchable,
  want: string[],
): Promise<void> {
  const missing = async () => {
    const have = new Set((await ledger.allDocs()).rows.map((r) => r.id));
    return want.filter((id) => !have.has(id));
  };
  // Subscribed before the first look: a change landing during that read still wakes it.
  await new Promise<void>((resolve, reject) => {
    const check = () =>
      void missing().then((left) => {
        if (left.length === 0) {
          stop();
          resolve();
        }
      }, reject);
    const stop = ledger.subscribe(check);
    check();
  });
}
