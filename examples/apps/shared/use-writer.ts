// This device's public key in `storage` (`whoami`): the writer that signs what the page
// writes, and what other replicas see in the ledger's history.
import { whoami } from "kiln";
import { useEffect, useState } from "react";

export function useWriter(storage: string): string | undefined {
  const [writer, setWriter] = useState<string>();
  useEffect(() => {
    let live = true;
    void whoami({ storage }).then((w) => live && setWriter(w));
    return () => {
      live = false;
    };
  }, [storage]);
  return writer;
}
