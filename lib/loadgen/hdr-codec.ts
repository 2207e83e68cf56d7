// HDR histograms in their standard compressed form (HdrHistogram's V2 encoding, deflated, base64: what
// `encodeIntoCompressedBase64` writes and every HdrHistogram port reads), decoded without trusting the
// bytes: the inflated size is capped, the header must describe exactly the histogram we expect, and every
// count must land inside it. hdr-histogram-js's own decoder sizes its arrays from the header and loops over
// counts it never checks, so it is used for encoding only.

import { inflateSync } from "node:zlib";
import { encodeIntoCompressedBase64, Int32Histogram } from "hdr-histogram-js";

/** The shape of every histogram the load generator keeps. */
export interface HistogramShape {
  readonly lowestDiscernibleValue: number;
  readonly highestTrackableValue: number;
  readonly significantDigits: 1 | 2 | 3 | 4 | 5;
}

export class HistogramDecodeError extends Error {
  override readonly name = "HistogramDecodeError";
}

const COMPRESSED_COOKIE = 0x1c849314;
const ENCODING_COOKIE = 0x1c849313;
const HEADER_BYTES = 40;
/** A ZigZag LEB128 word takes at most 9 bytes. */
const MAX_WORD_BYTES = 9;
/** ZigZag of the largest count an Int32 slot holds (or of the longest run of empty slots worth reading). */
const MAX_WORD = 2 * 0x7fffffff;

export function emptyHistogram(shape: HistogramShape): Int32Histogram {
  return new Int32Histogram(
    shape.lowestDiscernibleValue,
    shape.highestTrackableValue,
    shape.significantDigits,
  );
}

export function encodeHistogram(histogram: Int32Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/** Decodes one histogram of the given shape; throws HistogramDecodeError saying what is wrong with the text. */
export function decodeHistogram(base64: string, shape: HistogramShape): Int32Histogram {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new HistogramDecodeError("it is not base64");
  }
  const wrapper = Buffer.from(base64, "base64");
  if (wrapper.length < 8 || wrapper.readUInt32BE(0) !== COMPRESSED_COOKIE) {
    throw new HistogramDecodeError("it does not start with a compressed V2 histogram cookie");
  }
  const compressedLength = wrapper.readUInt32BE(4);
  if (compressedLength !== wrapper.length - 8) {
    throw new HistogramDecodeError(
      `it claims ${compressedLength} compressed bytes but carries ${wrapper.length - 8}`,
    );
  }
  const histogram = emptyHistogram(shape);
  const maxBytes = HEADER_BYTES + histogram.countsArrayLength * MAX_WORD_BYTES;
  let payload: Buffer;
  try {
    payload = inflateSync(wrapper.subarray(8), { maxOutputLength: maxBytes });
  } catch (error) {
    throw new HistogramDecodeError(`its compressed body does not inflate: ${(error as Error).message}`);
  }
  checkHeader(payload, shape);
  const payloadLength = payload.readUInt32BE(4);
  if (payloadLength !== payload.length - HEADER_BYTES) {
    throw new HistogramDecodeError(
      `its header claims ${payloadLength} bytes of counts but ${payload.length - HEADER_BYTES} follow`,
    );
  }
  readCounts(payload, histogram);
  return histogram;
}

function checkHeader(payload: Buffer, shape: HistogramShape): void {
  if (payload.length < HEADER_BYTES || payload.readUInt32BE(0) !== ENCODING_COOKIE) {
    throw new HistogramDecodeError("its body is not a V2 histogram encoding");
  }
  const digits = payload.readUInt32BE(12);
  const lowest = Number(payload.readBigUInt64BE(16));
  const highest = Number(payload.readBigUInt64BE(24));
  if (
    digits !== shape.significantDigits ||
    lowest !== shape.lowestDiscernibleValue ||
    highest !== shape.highestTrackableValue
  ) {
    throw new HistogramDecodeError(
      `it is a histogram of ${digits} significant digits over [${lowest}, ${highest}], not the expected ` +
        `${shape.significantDigits} digits over [${shape.lowestDiscernibleValue}, ${shape.highestTrackableValue}]`,
    );
  }
}

/** Counts are ZigZag LEB128 words: a positive word is the next index's count, a negative one skips zeros. */
function readCounts(payload: Buffer, histogram: Int32Histogram): void {
  let position = HEADER_BYTES;
  let index = 0;
  while (position < payload.length) {
    let raw = 0;
    let shift = 1;
    for (let i = 0; i < MAX_WORD_BYTES; i++) {
      if (position >= payload.length) throw new HistogramDecodeError("its counts end inside a word");
      const byte = payload[position++] as number;
      if (i === MAX_WORD_BYTES - 1) {
        raw += byte * shift;
        break;
      }
      raw += (byte & 0x7f) * shift;
      shift *= 128;
      if ((byte & 0x80) === 0) break;
    }
    if (raw > MAX_WORD) throw new HistogramDecodeError("it holds a count too large for its 32-bit slots");
    const word = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    if (word < 0) {
      index += -word;
      continue;
    }
    if (index >= histogram.countsArrayLength) {
      throw new HistogramDecodeError(
        `it holds counts past the histogram's ${histogram.countsArrayLength} slots`,
      );
    }
    if (word > 0) histogram.recordValueWithCount(histogram.valueFromIndex(index), word);
    index++;
  }
}
