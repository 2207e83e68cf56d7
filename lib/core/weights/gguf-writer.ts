// Writes a GGUF v3 file (little-endian) from a plain description: metadata in order, tensors in order with
// their data laid out one after another, each padded to the alignment, as llama.cpp expects. It builds the
// generated test models, and — since every header field can be overridden (magic, version, counts, offsets,
// raw type ids) — the malformed variants the parser's tests need.

import {
  alignUp,
  GGML_TYPE_BY_ID,
  GGML_TYPE_BY_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_FIXED_VALUE_SIZES,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufValueTypeName,
} from "./gguf-types";

export type GgufValue =
  | {
      readonly type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64" | "u64" | "i64";
      readonly value: number | bigint;
    }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "array"; readonly itemType: GgufValueTypeName; readonly items: readonly GgufValue[] };

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: the innermost (row) dimension first. */
  readonly dims: readonly (number | bigint)[];
  /** A ggml type name (`F32`, `Q4_K`), or a raw type id to write as is. */
  readonly type: string | number;
  /** The tensor's bytes; zeros of the type's size when omitted. */
  readonly data?: Uint8Array;
  /** Written instead of the computed offset (the data still goes where the layout puts it). */
  readonly offset?: number | bigint;
}

export interface GgufSpec {
  readonly metadata: readonly (readonly [key: string, value: GgufValue])[];
  readonly tensors: readonly GgufTensorSpec[];
  /** Default 3. */
  readonly version?: number;
  /** Default "GGUF". */
  readonly magic?: string;
  /** Padding of the data section; default: the `general.alignment` entry, else 32. */
  readonly alignment?: number;
  /** Written instead of the real counts. */
  readonly tensorCount?: number | bigint;
  readonly kvCount?: number | bigint;
}

export function writeGguf(spec: GgufSpec): Uint8Array {
  const alignment = spec.alignment ?? alignmentOf(spec.metadata) ?? GGUF_DEFAULT_ALIGNMENT;
  const header = new ByteSink();
  header.ascii(spec.magic ?? GGUF_MAGIC);
  header.u32(spec.version ?? 3);
  header.u64(spec.tensorCount ?? spec.tensors.length);
  header.u64(spec.kvCount ?? spec.metadata.length);
  for (const [key, value] of spec.metadata) {
    header.string(key);
    header.u32(typeId(value.type));
    writeValue(header, value);
  }

  const layout: { offset: number; bytes: number }[] = [];
  let dataBytes = 0;
  for (const tensor of spec.tensors) {
    const bytes = tensor.data?.length ?? byteSize(tensor);
    layout.push({ offset: dataBytes, bytes });
    dataBytes += alignUp(bytes, alignment);
    header.string(tensor.name);
    header.u32(tensor.dims.length);
    for (const d of tensor.dims) header.u64(d);
    header.u32(typeof tensor.type === "number" ? tensor.type : ggmlType(tensor.type).id);
    header.u64(tensor.offset ?? layout.at(-1)!.offset);
  }

  const dataStart = alignUp(header.length, alignment);
  const out = new Uint8Array(dataStart + dataBytes);
  header.copyTo(out);
  spec.tensors.forEach((tensor, i) => {
    if (tensor.data) out.set(tensor.data, dataStart + layout[i]!.offset);
  });
  return out;
}

function alignmentOf(metadata: GgufSpec["metadata"]): number | undefined {
  const entry = metadata.find(([key]) => key === "general.alignment")?.[1];
  return entry?.type === "u32" ? Number(entry.value) : undefined;
}

function ggmlType(name: string) {
  const type = GGML_TYPE_BY_NAME.get(name);
  if (!type) throw new Error(`Unknown ggml type '${name}'.`);
  return type;
}

function byteSize(tensor: GgufTensorSpec): number {
  const type = typeof tensor.type === "number" ? GGML_TYPE_BY_ID.get(tensor.type) : ggmlType(tensor.type);
  if (!type) return 0;
  const elements = tensor.dims.reduce<number>((product, d) => product * Number(d), 1);
  return Math.ceil(elements / type.blockSize) * type.typeSize;
}

function typeId(name: GgufValueTypeName): number {
  return GGUF_VALUE_TYPES.indexOf(name);
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  switch (value.type) {
    case "string":
      return sink.string(value.value);
    case "bool":
      return sink.u8(value.value ? 1 : 0);
    case "array":
      sink.u32(typeId(value.itemType));
      sink.u64(value.items.length);
      for (const item of value.items) {
        if (item.type !== value.itemType) {
          throw new Error(`An array of ${value.itemType} holds a ${item.type}.`);
        }
        writeValue(sink, item);
      }
      return;
    default:
      return sink.number(value.type, value.value);
  }
}

/** A growing little-endian byte buffer. */
class ByteSink {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  length = 0;
  private static readonly encoder = new TextEncoder();

  private reserve(bytes: number): number {
    if (this.length + bytes > this.buffer.length) {
      const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.length + bytes));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.length;
    this.length += bytes;
    return at;
  }

  // Each write reserves before it touches `view`: reserving may replace the buffer and its view.
  u8(value: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, value);
  }

  u32(value: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, value, true);
  }

  u64(value: number | bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(value), true);
  }

  number(type: GgufValueTypeName, value: number | bigint): void {
    const at = this.reserve(GGUF_FIXED_VALUE_SIZES[type] ?? 0);
    const n = Number(value);
    switch (type) {
      case "u8":
        return this.view.setUint8(at, n);
      case "i8":
        return this.view.setInt8(at, n);
      case "u16":
        return this.view.setUint16(at, n, true);
      case "i16":
        return this.view.setInt16(at, n, true);
      case "u32":
        return this.view.setUint32(at, n, true);
      case "i32":
        return this.view.setInt32(at, n, true);
      case "f32":
        return this.view.setFloat32(at, n, true);
      case "f64":
        return this.view.setFloat64(at, n, true);
      case "u64":
        return this.view.setBigUint64(at, BigInt(value), true);
      case "i64":
        return this.view.setBigInt64(at, BigInt(value), true);
      default:
        throw new Error(`${type} is not a number type.`);
    }
  }

  string(value: string): void {
    const bytes = ByteSink.encoder.encode(value);
    this.u64(bytes.length);
    const at = this.reserve(bytes.length);
    this.buffer.set(bytes, at);
  }

  ascii(value: string): void {
    for (let i = 0; i < value.length; i++) this.u8(value.charCodeAt(i) & 0xff);
  }

  copyTo(target: Uint8Array): void {
    target.set(this.buffer.subarray(0, this.length));
  }
}
