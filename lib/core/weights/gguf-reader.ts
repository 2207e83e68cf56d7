// A little-endian cursor over the bytes of a GGUF file that have been read so far. It never reads past them:
// every read first checks that its bytes are present and otherwise throws `OutOfBytes`, saying where the
// missing bytes end, so the parser can tell a truncated file from a prefix that is merely too short.
// Sizes taken from the file arrive as bigint and are checked before any allocation or skip.

export class OutOfBytes {
  constructor(
    /** What was being read, for the finding: `the value of metadata key 'general.name'`. */
    readonly what: string,
    /** The byte offset where that item starts. */
    readonly at: number,
    /** The offset the read needed to reach (Infinity when the declared size is not even a safe integer). */
    readonly end: number,
    /** A guess at how far the header goes on, to ask for enough bytes at once. */
    readonly projectedEnd: number = end,
  ) {}
}

export class GgufReader {
  position = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder("utf-8");

  constructor(
    private readonly bytes: Uint8Array,
    /** How many of `bytes` belong to the file (never more than its size). */
    readonly available: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, available);
  }

  /** Throws `OutOfBytes` unless `count` more bytes are present. */
  require(count: number, what: string): void {
    const end = this.position + count;
    if (!(end <= this.available))
      throw new OutOfBytes(what, this.position, Number.isFinite(end) ? end : Infinity);
  }

  skip(count: number, what: string): void {
    this.require(count, what);
    this.position += count;
  }

  u8(what: string): number {
    this.require(1, what);
    return this.view.getUint8(this.position++);
  }

  i8(what: string): number {
    this.require(1, what);
    return this.view.getInt8(this.position++);
  }

  u16(what: string): number {
    this.require(2, what);
    const value = this.view.getUint16(this.position, true);
    this.position += 2;
    return value;
  }

  i16(what: string): number {
    this.require(2, what);
    const value = this.view.getInt16(this.position, true);
    this.position += 2;
    return value;
  }

  u32(what: string): number {
    this.require(4, what);
    const value = this.view.getUint32(this.position, true);
    this.position += 4;
    return value;
  }

  i32(what: string): number {
    this.require(4, what);
    const value = this.view.getInt32(this.position, true);
    this.position += 4;
    return value;
  }

  f32(what: string): number {
    this.require(4, what);
    const value = this.view.getFloat32(this.position, true);
    this.position += 4;
    return value;
  }

  u64(what: string): bigint {
    this.require(8, what);
    const value = this.view.getBigUint64(this.position, true);
    this.position += 8;
    return value;
  }

  i64(what: string): bigint {
    this.require(8, what);
    const value = this.view.getBigInt64(this.position, true);
    this.position += 8;
    return value;
  }

  f64(what: string): number {
    this.require(8, what);
    const value = this.view.getFloat64(this.position, true);
    this.position += 8;
    return value;
  }

  /**
   * A length-prefixed UTF-8 string. Its text is decoded only when it is at most `maxChars` bytes long;
   * longer strings are skipped and only their length is returned.
   */
  string(what: string, maxChars = Infinity): { readonly text?: string; readonly length: number } {
    const start = this.position;
    const length = toSafeNumber(this.u64(`the length of ${what}`));
    try {
      this.require(length, what);
    } catch (error) {
      this.position = start;
      if (error instanceof OutOfBytes) throw new OutOfBytes(what, start, error.end);
      throw error;
    }
    const text =
      length <= maxChars
        ? this.decoder.decode(this.bytes.subarray(this.position, this.position + length))
        : undefined;
    this.position += length;
    return text === undefined ? { length } : { text, length };
  }
}

/** A bigint from the file as a number, or Infinity when it is beyond the safe integers (so it fails checks). */
export function toSafeNumber(value: bigint): number {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Infinity;
}
