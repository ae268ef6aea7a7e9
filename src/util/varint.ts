// Unsigned LEB128 varints packed into one byte array: compact columns for checkpoints.
export class VarintWriter {
  #buf = new Uint8Array(1024);
  #at = 0;

  write(n: number): void {
    if (this.#at + 10 > this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    while (n >= 0x80) {
      this.#buf[this.#at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.#buf[this.#at++] = n;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

export class VarintReader {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}

  read(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.#at >= this.bytes.length)
        throw new RangeError("varint runs past the end");
      const b = this.bytes[this.#at++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 49) throw new RangeError("varint too long");
    }
  }

  get done(): boolean {
    return this.#at >= this.bytes.length;
  }
}
