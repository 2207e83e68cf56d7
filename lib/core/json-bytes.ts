// Reads JSON straight from its UTF-8 bytes, one object member at a time, so a 100 MB safetensors header or a
// 16 MB shard index never becomes a 100 MB string and a tree of millions of objects: a caller walks the
// members it cares about, decodes only their keys and the values it needs, and skips the rest — each skip
// validated, so a document it walks is exactly a document JSON.parse accepts (RFC 8259), in time linear in
// its bytes and with memory for one nesting bit per level. Nothing here recurses.
//
// Errors name the byte and quote at most a short excerpt of the input, escaped: a file that is not JSON
// (a /etc/passwd linked in place of config.json, say) is never echoed back.

/** A value's bytes: [start, end) in the document. */
export interface JsonSpan {
  readonly start: number;
  readonly end: number;
}

/** Where the document stops being JSON, and what was expected there. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
    /** At most a few bytes of the input from `offset`, as an escaped JSON string (empty at the end). */
    excerpt: string,
  ) {
    // A sentence for a finding: `expected ':' at byte 12 (found "xyz…")`.
    super(
      `expected ${expected} at byte ${offset} (found ${excerpt === "" ? "the end of the input" : excerpt})`,
    );
    this.name = "JsonSyntaxError";
  }
}

/** Bytes of the input a syntax error quotes. */
const EXCERPT_BYTES = 12;

/** Strings this short are looked up among those already decoded before being decoded again. */
const MAX_REMEMBERED_STRING_BYTES = 16;
const MAX_REMEMBERED_STRINGS = 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const ESCAPABLE = new Set([...'"\\/bfnrtu'].map((c) => c.charCodeAt(0)));

const lossyUtf8 = new TextDecoder("utf-8");

/**
 * Whether `bytes` are valid UTF-8, decoded 64 KiB at a time: no string as big as the input is made, and each
 * piece is small enough to die young (a megabyte piece would pile up in the old generation until a full GC).
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const chunk = 64 * 1024;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      decoder.decode(bytes.subarray(at, at + chunk), { stream: at + chunk < bytes.byteLength });
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * A JSON document in UTF-8 bytes. Methods take the offset to start at and return the offset after what they
 * read; each throws JsonSyntaxError where the bytes stop being JSON. Bytes outside strings must be ASCII by
 * JSON's grammar; inside strings, the caller is expected to have checked `isValidUtf8` (decoding is lossy).
 */
export class JsonBytes {
  /** One nesting bit per open container of the value being skipped: 1 for an object, 0 for an array. */
  private nesting = new Uint8Array(64);
  /** Short strings already decoded, by a hash of their bytes: keys and dtypes repeat in every entry. */
  private readonly decoded = new Map<number, string>();

  constructor(readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.byteLength;
  }

  /** The first byte of the value at `at` (after whitespace), or undefined at the end. */
  peek(at: number): number | undefined {
    return this.bytes[this.skipWhitespace(at)];
  }

  skipWhitespace(at: number): number {
    const { bytes } = this;
    let i = at;
    while (i < bytes.length) {
      const b = bytes[i]!;
      if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break;
      i++;
    }
    return i;
  }

  /** The whole document is one value and nothing else but whitespace: its span. */
  document(): JsonSpan {
    const start = this.skipWhitespace(0);
    const end = this.skipValue(start);
    this.expectEnd(end);
    return { start, end };
  }

  /** Nothing but whitespace follows `at`. */
  expectEnd(at: number): void {
    const after = this.skipWhitespace(at);
    if (after !== this.length) throw this.error(after, "the end of the document");
  }

  /**
   * Calls `visit` with each member of the object at `at` — its key decoded, its value's span — in order; stops
   * early when `visit` returns false. Returns the offset after the closing brace (or where it stopped).
   */
  members(at: number, visit: (key: string, value: JsonSpan) => boolean | void): number {
    let i = this.expect(this.skipWhitespace(at), OPEN_OBJECT, "'{'");
    i = this.skipWhitespace(i);
    if (this.bytes[i] === CLOSE_OBJECT) return i + 1;
    for (;;) {
      if (this.bytes[i] !== QUOTE) throw this.error(i, "a key in double quotes");
      const keyEnd = this.skipString(i);
      const key = this.decodeString(i, keyEnd);
      i = this.expect(this.skipWhitespace(keyEnd), COLON, "':'");
      const start = this.skipWhitespace(i);
      const end = this.skipValue(start);
      if (visit(key, { start, end }) === false) return end;
      i = this.skipWhitespace(end);
      if (this.bytes[i] === COMMA) {
        i = this.skipWhitespace(i + 1);
        continue;
      }
      return this.expect(i, CLOSE_OBJECT, "',' or '}'");
    }
  }

  /** The string at `span` decoded, or undefined when the value there is not a string. */
  string(span: JsonSpan): string | undefined {
    return this.bytes[span.start] === QUOTE ? this.decodeString(span.start, span.end) : undefined;
  }

  /** Whether the value at `span` is an array with no elements. */
  isEmptyArray(span: JsonSpan): boolean {
    return this.bytes[span.start] === OPEN_ARRAY && this.peek(span.start + 1) === CLOSE_ARRAY;
  }

  /** The value at `span` as JSON.parse makes it. For small values: the caller bounds the span's length. */
  value(span: JsonSpan): unknown {
    return JSON.parse(lossyUtf8.decode(this.bytes.subarray(span.start, span.end)));
  }

  /** Validates one value starting exactly at `at` and returns the offset after it. Iterative. */
  skipValue(at: number): number {
    const { bytes } = this;
    let nesting = this.nesting;
    let depth = 0;
    let i = at;
    for (;;) {
      // A value starts at i.
      const b = bytes[i];
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (depth >> 3 >= nesting.length) {
          const grown = new Uint8Array(nesting.length * 2);
          grown.set(nesting);
          nesting = this.nesting = grown;
        }
        const isObject = b === OPEN_OBJECT;
        if (isObject) nesting[depth >> 3]! |= 1 << (depth & 7);
        else nesting[depth >> 3]! &= ~(1 << (depth & 7));
        depth++;
        i = this.skipWhitespace(i + 1);
        if (bytes[i] === (isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          depth--;
          i += 1;
        } else {
          if (isObject) i = this.skipKey(i);
          continue;
        }
      } else if (b === QUOTE) i = this.skipString(i);
      else if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) i = this.skipNumber(i);
      else if (b === 0x74) i = this.skipLiteral(i, "true");
      else if (b === 0x66) i = this.skipLiteral(i, "false");
      else if (b === 0x6e) i = this.skipLiteral(i, "null");
      else throw this.error(i, "a value");

      // A value ended at i: close containers until one continues with another member or element.
      for (;;) {
        if (depth === 0) return i;
        const inObject = (nesting[(depth - 1) >> 3]! & (1 << ((depth - 1) & 7))) !== 0;
        i = this.skipWhitespace(i);
        if (bytes[i] === COMMA) {
          i = this.skipWhitespace(i + 1);
          if (inObject) i = this.skipKey(i);
          break;
        }
        i = this.expect(i, inObject ? CLOSE_OBJECT : CLOSE_ARRAY, inObject ? "',' or '}'" : "',' or ']'");
        depth--;
      }
    }
  }

  /** A key and its colon; returns where the value starts. */
  private skipKey(at: number): number {
    if (this.bytes[at] !== QUOTE) throw this.error(at, "a key in double quotes");
    const i = this.expect(this.skipWhitespace(this.skipString(at)), COLON, "':'");
    return this.skipWhitespace(i);
  }

  /** The offset after the closing quote of the string starting at `at`. */
  private skipString(at: number): number {
    const { bytes } = this;
    const length = bytes.length;
    let i = at + 1;
    for (;;) {
      // The common bytes in one tight loop; the three that need a look end it.
      let b = 0;
      while (i < length && (b = bytes[i]!) !== QUOTE && b !== BACKSLASH && b >= 0x20) i++;
      if (i >= length) throw this.error(i, "the closing '\"' of a string");
      if (b === QUOTE) return i + 1;
      if (b < 0x20) throw this.error(i, "a character (control characters must be escaped in strings)");
      const escaped = bytes[i + 1];
      if (escaped === undefined || !ESCAPABLE.has(escaped)) throw this.error(i, "an escape sequence");
      if (escaped === 0x75) {
        for (let h = i + 2; h < i + 6; h++) {
          if (!isHexDigit(bytes[h])) throw this.error(i, "four hex digits after \\u");
        }
        i += 6;
      } else i += 2;
    }
  }

  private decodeString(start: number, end: number): string {
    const { bytes } = this;
    const length = end - start - 2;
    if (length <= MAX_REMEMBERED_STRING_BYTES) {
      let hash = length;
      for (let i = start + 1; i < end - 1; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
      const known = this.decoded.get(hash);
      if (known !== undefined && known.length === length && sameAscii(known, bytes, start + 1)) return known;
      const text = this.decodeStringBytes(start, end);
      if (this.decoded.size < MAX_REMEMBERED_STRINGS) this.decoded.set(hash, text);
      return text;
    }
    return this.decodeStringBytes(start, end);
  }

  private decodeStringBytes(start: number, end: number): string {
    const inner = this.bytes.subarray(start + 1, end - 1);
    if (!inner.includes(BACKSLASH)) return lossyUtf8.decode(inner);
    return JSON.parse(lossyUtf8.decode(this.bytes.subarray(start, end))) as string;
  }

  /**
   * The array of numbers at `span` (`[4096, 4096]`), or undefined when the value there is anything else: the
   * common case of a tensor's shape and offsets, read without decoding text or building a tree.
   */
  numbers(span: JsonSpan): number[] | undefined {
    const { bytes } = this;
    if (bytes[span.start] !== OPEN_ARRAY) return undefined;
    const values: number[] = [];
    let i = this.skipWhitespace(span.start + 1);
    if (bytes[i] === CLOSE_ARRAY) return values;
    for (;;) {
      const b = bytes[i];
      if (b !== 0x2d && !isDigit(b)) return undefined;
      const end = this.skipNumber(i);
      values.push(this.numberAt(i, end));
      i = this.skipWhitespace(end);
      if (bytes[i] === CLOSE_ARRAY) return values;
      i = this.skipWhitespace(i + 1);
    }
  }

  /** The number written in [start, end): digits summed exactly while they fit, else as JSON reads them. */
  private numberAt(start: number, end: number): number {
    const { bytes } = this;
    if (end - start <= 15) {
      let value = 0;
      let i = start;
      for (; i < end && isDigit(bytes[i]); i++) value = value * 10 + bytes[i]! - 0x30;
      if (i === end) return value;
    }
    return Number(lossyUtf8.decode(bytes.subarray(start, end)));
  }

  private skipNumber(at: number): number {
    const { bytes } = this;
    let i = at;
    if (bytes[i] === 0x2d) i++;
    if (bytes[i] === 0x30) i++;
    else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
    else throw this.error(i, "a digit");
    if (bytes[i] === 0x2e) {
      i++;
      if (!isDigit(bytes[i])) throw this.error(i, "a digit after '.'");
      while (isDigit(bytes[i])) i++;
    }
    if (bytes[i] === 0x65 || bytes[i] === 0x45) {
      i++;
      if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
      if (!isDigit(bytes[i])) throw this.error(i, "a digit in the exponent");
      while (isDigit(bytes[i])) i++;
    }
    return i;
  }

  private skipLiteral(at: number, literal: string): number {
    for (let k = 0; k < literal.length; k++) {
      if (this.bytes[at + k] !== literal.charCodeAt(k)) throw this.error(at, `'${literal}'`);
    }
    return at + literal.length;
  }

  private expect(at: number, byte: number, what: string): number {
    if (this.bytes[at] !== byte) throw this.error(at, what);
    return at + 1;
  }

  private error(at: number, expected: string): JsonSyntaxError {
    const found = lossyUtf8.decode(this.bytes.subarray(at, at + EXCERPT_BYTES));
    const more = at + EXCERPT_BYTES < this.length ? "…" : "";
    const excerpt = found === "" ? "" : `${JSON.stringify(found).slice(0, -1)}${more}"`;
    return new JsonSyntaxError(at, expected, excerpt);
  }
}

/** Whether `text` is exactly the bytes at `at` read as ASCII (a remembered string matched by hash). */
function sameAscii(text: string, bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[at + i]) return false;
  return true;
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function isHexDigit(b: number | undefined): boolean {
  return (
    b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66))
  );
}
