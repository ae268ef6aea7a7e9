// Progress of long work (export, import, compaction, catch-up), reported to one optional
// callback. `total` is undefined while it is not known.
export interface Progress {
  /** What is being done: "export", "import", "compact", "catch-up". */
  readonly phase: string;
  readonly done: number;
  readonly total: number | undefined;
}

export type OnProgress = (progress: Progress) => void;
