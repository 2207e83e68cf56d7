// Ways to break a generated model in memory, the way real uploads break: a file cut short, a header edited
// by hand (overlapping offsets, an unknown dtype, a shape that does not match), a lying length prefix.

type HeaderJson = Record<
  string,
  { dtype?: unknown; shape?: unknown; data_offsets?: unknown } & Record<string, unknown>
>;

/** The file without its last `bytes` bytes. */
export function truncate(file: Uint8Array, bytes: number): Uint8Array {
  return file.slice(0, Math.max(0, file.byteLength - bytes));
}

/** The same data under an edited header (re-encoded, with the length prefix updated). */
export function editHeader(file: Uint8Array, edit: (header: HeaderJson) => void): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) as HeaderJson;
  edit(header);
  return withHeaderText(file, JSON.stringify(header));
}

/** The same data under `text` as the header, byte for byte. */
export function withHeaderText(file: Uint8Array, text: string | Uint8Array): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const data = file.subarray(8 + length);
  const json = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

/** The file with its length prefix replaced by `length`. */
export function withLengthPrefix(file: Uint8Array, length: bigint): Uint8Array {
  const out = file.slice();
  new DataView(out.buffer).setBigUint64(0, length, true);
  return out;
}

/** The header's JSON as text. */
export function headerText(file: Uint8Array): string {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return new TextDecoder().decode(file.subarray(8, 8 + length));
}

export function parseJsonBytes(bytes: Uint8Array | undefined): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}
