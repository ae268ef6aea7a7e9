/** Fireproof is slow at sequential puts and gets (~100/s in Node): those run on fewer docs. */
export const FP_SEQ = 300;
export const FP_BULK = 2_000;
export const FP_GETS = 500;
