// Progress of long work (export, import, compaction, catch-up), reported to one optional
// callback. `total` is undefined while it is not known.
/** How far a long operation is: its phase, what is done, and the total once known. */
export interface Progress {
  /** What is being done: "export", "import", "compact", "catch-up". */
  readonly phase: string;
  readonly done: number;
  readonly total: number | undefined;
}

/** Called as a long operation (export, import, compaction, catch-up) advances. */
export type OnProgress = (progress: Progress) => void;
