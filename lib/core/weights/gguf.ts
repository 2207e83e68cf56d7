// Reads and checks the header of a GGUF model file — magic, version, metadata, tensor infos — from the bytes
// at the start of the file, the way llama.cpp's loader will read it, so a model that cannot load is refused
// before it ships. Pure and bounded: it never throws, never trusts a count or size from the file, and never
// allocates more than the bytes it was given. When those bytes end before the header does, it answers
// `need-more` with how many bytes from the start to read next — never more than the file or
// GGUF_HEADER_CAP_BYTES; a header that does not fit in the cap is a finding.
//
// What it keeps is bounded by caps, not by the file's counts: at most MAX_GGUF_TENSORS tensor infos and
// MAX_GGUF_METADATA_ENTRIES metadata entries (a header declaring more is a finding), strings and arrays
// summarized past their limits and past a budget for the whole header, findings capped per kind. At the caps
// a parse of a 64 MiB header holds ~150 MB besides its bytes; bench/hostile measures it through
// `modelship validate`.

import { CappedFindings } from "../capped-findings";
import type { Finding } from "../findings";
import { arrayLength, checkModelMetadata, countOf, type GgufSplit, readSplit } from "./gguf-model-checks";
import { GgufReader, OutOfBytes, toSafeNumber } from "./gguf-reader";
import {
  checkDuplicateTensorNames,
  checkTensorLayout,
  type RawTensorInfo,
  resolveTensor,
  type ResolvedTensor,
} from "./gguf-tensors";
import {
  alignUp,
  GGML_MAX_DIMS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_FIXED_VALUE_SIZES,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufValueTypeName,
} from "./gguf-types";

/**
 * The most of a file's start the parser reads. Real headers (metadata, vocabulary, tensor infos) are a few
 * MB even for 150k-token vocabularies and thousands of tensors; 64 MiB leaves room without trusting a size.
 */
export const GGUF_HEADER_CAP_BYTES = 64 * 1024 * 1024;

/**
 * Tensor infos read at most. llama.cpp merges a MoE layer's experts into one tensor, so real files hold a few
 * thousand (DeepSeek-V3: ~1,000; gpt-oss-120b: ~700); a 64 MiB header could declare 2.5 million.
 */
export const MAX_GGUF_TENSORS = 65_536;
/** Metadata entries read at most: real files have 30–60 (a vocabulary is one entry holding an array). */
export const MAX_GGUF_METADATA_ENTRIES = 65_536;
/** Never ask for less than this, so a short first read does not turn into many small ones. */
const MIN_READ_BYTES = 64 * 1024;
/** Longer strings (a tokenizer JSON, say) are summarized as `{type: "string", length}`. */
const MAX_KEPT_STRING_BYTES = 64 * 1024;
/** Bytes of string values kept across the whole header; past it, strings are summarized. */
const KEPT_TEXT_BUDGET = 16 * 1024 * 1024;
/** Bytes of metadata keys across the whole header: real files' keys take a few KiB. */
const KEY_BYTES_BUDGET = 1024 * 1024;
/** Longer arrays (vocabularies, merges) are summarized as `{type: "array", elementType, length}`. */
const MAX_KEPT_ARRAY_LENGTH = 1024;
/** Array elements kept across the whole header, so nested arrays cannot multiply the limit above. */
const KEPT_ELEMENT_BUDGET = 16 * 1024;
/** Deeper nesting than any real file has; it bounds the recursion. */
const MAX_ARRAY_DEPTH = 8;
const MAX_KEY_BYTES = 65_535;
/** A name of 64 bytes or more is refused anyway (GGML_MAX_NAME); this much of it is kept to show it. */
const MAX_KEPT_TENSOR_NAME_BYTES = 256;
/** Smallest encodings: a key-value pair (empty key, type, one byte) and a tensor info (empty name, 0 dims). */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

interface GgufTensor {
  readonly name: string;
  /** ggml order: the innermost (row) dimension first. */
  readonly dims: number[];
  /** ggml type name (`F32`, `Q4_K`), or `unknown(<id>)`. */
  readonly type: string;
  /** Offset of the tensor's data from the start of the data section (`dataOffset`). */
  readonly offset: number;
  /** Bytes of data; 0 when the type or shape is invalid. */
  readonly bytes: number;
}

interface GgufHyperparameters {
  readonly layers?: number;
  readonly embedding?: number;
  readonly headCount?: number;
  readonly headCountKv?: number;
  readonly vocabSize?: number;
}

/** Stands in for a metadata value too big to copy (a vocabulary, a long string): its type and length. */
interface GgufSummarizedValue {
  readonly type: "array" | "string";
  readonly elementType?: GgufValueTypeName;
  /** Elements for an array, bytes for a string. */
  readonly length: number;
}

export interface GgufInfo {
  /** 0 when the file is not a readable GGUF file. */
  version: number;
  architecture?: string;
  contextLength?: number;
  /**
   * Every metadata key with its value: numbers (64-bit integers beyond 2^53 as decimal strings), booleans,
   * strings, arrays; big arrays and long strings as a `GgufSummarizedValue`.
   */
  metadata: Record<string, unknown>;
  tensors: GgufTensor[];
  /** Absolute offset of the data section: the end of the tensor infos, aligned. */
  dataOffset: number;
  /** Elements across all tensors with a valid shape. */
  parameters: number;
  /** Parameters per ggml type name. */
  dtypes: Record<string, number>;
  /** Bytes of tensor data, without alignment padding. */
  tensorDataBytes: number;
  hyperparameters: GgufHyperparameters;
  alignment: number;
  /** Set for the shards of a model split with gguf-split. */
  split?: GgufSplit;
}

export type GgufParseResult =
  { kind: "need-more"; bytes: number } | { kind: "parsed"; info: GgufInfo; findings: Finding[] };

/** A problem after which nothing further in the header can be located. */
class Unreadable {
  constructor(readonly finding: Finding) {}
}

interface Header {
  version: number;
  metadata: Record<string, unknown>;
  valueTypes: Map<string, GgufValueTypeName>;
  tensors: RawTensorInfo[];
  alignment: number;
  /** End of the tensor infos, once every one of them has been read. */
  end?: number;
}

/**
 * `prefix` holds the first bytes of the file (at least 0); `fileSize` is the size of the whole file;
 * `file` names it in the findings.
 */
export function parseGguf(prefix: Uint8Array, fileSize: number, file: string): GgufParseResult {
  const size = Number.isSafeInteger(fileSize) && fileSize >= 0 ? fileSize : prefix.length;
  const reader = new GgufReader(prefix, Math.min(prefix.length, size));
  const header: Header = {
    version: 0,
    metadata: {},
    valueTypes: new Map(),
    tensors: [],
    alignment: GGUF_DEFAULT_ALIGNMENT,
  };
  const findings = new CappedFindings();
  try {
    new HeaderParser(reader, size, file, header, findings).parse();
  } catch (error) {
    if (error instanceof OutOfBytes) {
      const bytes = bytesToRead(error, reader.available, size);
      if (bytes !== undefined) return { kind: "need-more", bytes };
      findings.add(outOfBytesFinding(error, size, file));
    } else if (error instanceof Unreadable) {
      findings.add(error.finding);
    } else {
      findings.add({
        severity: "error",
        code: "gguf.unreadable",
        file,
        message: `The GGUF header could not be read: ${String(error)}.`,
        hint: "Report this file to the modelship maintainers; it may expose a parser bug.",
      });
    }
  }
  return { kind: "parsed", ...describe(header, size, file, findings) };
}

/** How far to read next, or undefined when more bytes cannot help (past the file or the cap). */
function bytesToRead(error: OutOfBytes, available: number, fileSize: number): number | undefined {
  if (error.end > fileSize || error.end > GGUF_HEADER_CAP_BYTES) return undefined;
  const projected = Number.isFinite(error.projectedEnd) ? error.projectedEnd : error.end;
  const wanted = Math.max(error.end, projected, 2 * available, MIN_READ_BYTES);
  return Math.ceil(Math.min(wanted, fileSize, GGUF_HEADER_CAP_BYTES));
}

function outOfBytesFinding(error: OutOfBytes, fileSize: number, file: string): Finding {
  if (error.end > fileSize) {
    const needs = Number.isFinite(error.end)
      ? `needs bytes up to ${error.end}`
      : "declares an impossible size";
    return {
      severity: "error",
      code: "gguf.truncated",
      file,
      message: `The header ends early: ${error.what} at byte ${error.at} ${needs}, but the file is ${fileSize} bytes long.`,
      hint: "The file is truncated or corrupt: upload it again, or re-export it with llama.cpp's convert_hf_to_gguf.py.",
    };
  }
  return {
    severity: "error",
    code: "gguf.header.too-large",
    file,
    message:
      `The header goes past the first ${GGUF_HEADER_CAP_BYTES / 1024 / 1024} MiB of the file ` +
      `(${error.what} at byte ${error.at} needs bytes up to ${error.end}); modelship reads no further.`,
    hint: "Real GGUF headers are a few MiB; the file is probably corrupt. Re-export it.",
  };
}

class HeaderParser {
  private keptElementBudget = KEPT_ELEMENT_BUDGET;
  private keptTextBudget = KEPT_TEXT_BUDGET;
  private keyBytesBudget = KEY_BYTES_BUDGET;

  constructor(
    private readonly reader: GgufReader,
    private readonly fileSize: number,
    private readonly file: string,
    private readonly header: Header,
    private readonly findings: CappedFindings,
  ) {}

  parse(): void {
    this.readPreamble();
    const tensorCount = this.readCount(
      "the tensor count",
      MIN_TENSOR_INFO_BYTES,
      "tensors",
      MAX_GGUF_TENSORS,
    );
    const kvCount = this.readCount(
      "the metadata count",
      MIN_KV_BYTES,
      "metadata entries",
      MAX_GGUF_METADATA_ENTRIES,
    );
    for (let i = 0; i < kvCount; i++) this.readKeyValue(i);
    this.header.alignment = this.readAlignment();
    this.readTensorInfos(tensorCount);
    this.header.end = this.reader.position;
  }

  private readPreamble(): void {
    const { reader, file } = this;
    reader.require(4, "the magic number");
    const magic = String.fromCharCode(...[0, 1, 2, 3].map(() => reader.u8("the magic number")));
    if (magic !== GGUF_MAGIC) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.magic",
        file,
        message: `The file starts with ${JSON.stringify(magic)}, not "GGUF": it is not a GGUF file.`,
        hint: "Upload a .gguf file (older GGML/GGJT files must be converted with llama.cpp's tools first).",
      });
    }
    const version = reader.u32("the version");
    if (version === 2 || version === 3) {
      this.header.version = version;
      return;
    }
    const bigEndian = version !== 0 && (version & 0xffff) === 0;
    throw new Unreadable({
      severity: "error",
      code: "gguf.version",
      file,
      message: bigEndian
        ? `The file is a big-endian GGUF (version field 0x${version.toString(16)}); runtimes here read little-endian files only.`
        : version === 1
          ? "The file is GGUF version 1, which llama.cpp no longer loads."
          : `The file declares GGUF version ${version}; modelship reads versions 2 and 3.`,
      hint: "Re-export the model with a current llama.cpp convert_hf_to_gguf.py (little-endian, version 3).",
    });
  }

  /**
   * A count from the header, refused when its smallest possible encoding cannot fit in the file or when it is
   * more than `cap`, beyond any real file.
   */
  private readCount(what: string, minBytesEach: number, things: string, cap: number): number {
    const at = this.reader.position;
    const count = toSafeNumber(this.reader.u64(what));
    const room = this.fileSize - this.reader.position;
    if (count * minBytesEach > room) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.count",
        file: this.file,
        message:
          `The header at byte ${at} declares ${Number.isFinite(count) ? count : "more than 2^53"} ${things}, ` +
          `which need at least ${minBytesEach} bytes each; only ${room} bytes of the file remain.`,
        hint: "The header is corrupt: re-export the model.",
      });
    }
    if (count > cap) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.count",
        file: this.file,
        message: `The header at byte ${at} declares ${count} ${things}; modelship reads at most ${cap}, far more than any real model has.`,
        hint: "The header is corrupt or hostile: re-export the model.",
      });
    }
    return count;
  }

  private readKeyValue(index: number): void {
    const { reader, header, file } = this;
    const keyAt = reader.position;
    const key = reader.string(`the key of metadata entry ${index}`, MAX_KEY_BYTES);
    if (key.text === undefined) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.metadata.key-too-long",
        file,
        message: `Metadata entry ${index} (at byte ${keyAt}) has a ${key.length}-byte key; GGUF keys are at most ${MAX_KEY_BYTES} bytes.`,
        hint: "The header is corrupt: re-export the model.",
      });
    }
    const name = key.text;
    this.keyBytesBudget -= key.length;
    if (this.keyBytesBudget < 0) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.metadata.too-large",
        file,
        message: `The metadata keys run past ${KEY_BYTES_BUDGET} bytes at entry ${index} (byte ${keyAt}); real files' keys take a few KB.`,
        hint: "The header is corrupt or hostile: re-export the model.",
      });
    }
    const typeId = reader.u32(`the value type of metadata key '${name}'`);
    const value = this.readValue(typeId, name, `the value of metadata key '${name}'`, 0);

    if (name === "") {
      this.findings.add({
        severity: "error",
        code: "gguf.metadata.key-empty",
        file,
        message: `Metadata entry ${index} (at byte ${keyAt}) has an empty key, which llama.cpp refuses.`,
        hint: "Re-export the model.",
      });
      return;
    }
    if (Object.hasOwn(header.metadata, name)) {
      this.findings.add({
        severity: "error",
        code: "gguf.metadata.key-duplicate",
        file,
        path: name,
        message: `The metadata key '${name}' appears more than once; llama.cpp refuses duplicate keys.`,
        hint: "Re-export the model.",
      });
      return;
    }
    Object.defineProperty(header.metadata, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    header.valueTypes.set(name, GGUF_VALUE_TYPES[typeId]!);
  }

  private readValue(typeId: number, key: string, what: string, depth: number): unknown {
    const { reader } = this;
    const typeName = GGUF_VALUE_TYPES[typeId];
    if (typeName === undefined) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.metadata.value-type",
        file: this.file,
        path: key,
        message: `The metadata key '${key}' has value type ${typeId}; GGUF defines types 0–${GGUF_VALUE_TYPES.length - 1}.`,
        hint: "The header is corrupt or was written by an incompatible tool: re-export the model.",
      });
    }
    switch (typeName) {
      case "u8":
        return reader.u8(what);
      case "i8":
        return reader.i8(what);
      case "u16":
        return reader.u16(what);
      case "i16":
        return reader.i16(what);
      case "u32":
        return reader.u32(what);
      case "i32":
        return reader.i32(what);
      case "f32":
        return reader.f32(what);
      case "f64":
        return reader.f64(what);
      case "u64":
        return jsonSafeInteger(reader.u64(what));
      case "i64":
        return jsonSafeInteger(reader.i64(what));
      case "bool":
        return this.readBool(key, what);
      case "string": {
        const { text, length } = reader.string(what, Math.min(MAX_KEPT_STRING_BYTES, this.keptTextBudget));
        if (text === undefined) return { type: "string", length } satisfies GgufSummarizedValue;
        this.keptTextBudget -= length;
        return text;
      }
      case "array":
        return this.readArray(key, what, depth);
    }
  }

  private readBool(key: string, what: string): boolean {
    const byte = this.reader.u8(what);
    if (byte > 1) {
      this.findings.add({
        severity: "warning",
        code: "gguf.metadata.bool",
        file: this.file,
        path: key,
        message: `The metadata key '${key}' holds a boolean byte of ${byte}; GGUF booleans are 0 or 1.`,
        hint: "Readers disagree on such values; re-export the model.",
      });
    }
    return byte !== 0;
  }

  private readArray(key: string, what: string, depth: number): unknown {
    const { reader, file } = this;
    const at = reader.position;
    const elementTypeId = reader.u32(`the element type of ${what}`);
    const elementType = GGUF_VALUE_TYPES[elementTypeId];
    if (elementType === undefined) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.metadata.value-type",
        file,
        path: key,
        message: `The metadata key '${key}' holds an array of value type ${elementTypeId}; GGUF defines types 0–${GGUF_VALUE_TYPES.length - 1}.`,
        hint: "The header is corrupt or was written by an incompatible tool: re-export the model.",
      });
    }
    if (elementType === "array") {
      if (depth + 1 >= MAX_ARRAY_DEPTH) {
        throw new Unreadable({
          severity: "error",
          code: "gguf.metadata.array-depth",
          file,
          path: key,
          message: `The metadata key '${key}' nests arrays more than ${MAX_ARRAY_DEPTH} deep.`,
          hint: "The header is corrupt: re-export the model.",
        });
      }
      if (depth === 0) {
        this.findings.add({
          severity: "warning",
          code: "gguf.metadata.nested-array",
          file,
          path: key,
          message: `The metadata key '${key}' holds arrays of arrays, which llama.cpp's loader refuses.`,
          hint: "Serve this model with a runtime that reads nested GGUF arrays, or re-export it without them.",
        });
      }
    }
    const length = toSafeNumber(reader.u64(`the length of ${what}`));
    const fixedSize = GGUF_FIXED_VALUE_SIZES[elementType];
    const minBytes = length * (fixedSize ?? (elementType === "string" ? 8 : 12));
    const room = this.fileSize - reader.position;
    if (minBytes > room) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.metadata.array-length",
        file,
        path: key,
        message:
          `The metadata key '${key}' (at byte ${at}) declares ${Number.isFinite(length) ? length : "more than 2^53"} ` +
          `${elementType} elements, at least ${Number.isFinite(minBytes) ? minBytes : "2^53"} bytes; ` +
          `only ${room} bytes of the file remain.`,
        hint: "The header is corrupt: re-export the model.",
      });
    }

    const keep = length <= MAX_KEPT_ARRAY_LENGTH && length <= this.keptElementBudget;
    const summary: GgufSummarizedValue = { type: "array", elementType, length };
    if (keep) this.keptElementBudget -= length;
    const elementWhat = `an element of ${what}`;
    if (fixedSize !== undefined && !keep) {
      reader.skip(length * fixedSize, `the elements of ${what}`);
      return summary;
    }

    const start = reader.position;
    const values: unknown[] = [];
    for (let i = 0; i < length; i++) {
      try {
        if (keep) values.push(this.readValue(elementTypeId, key, elementWhat, depth + 1));
        else if (elementType === "string") reader.string(elementWhat, -1);
        else this.readValue(elementTypeId, key, elementWhat, depth + 1);
      } catch (error) {
        if (!(error instanceof OutOfBytes) || i === 0) throw error;
        const arrayBytes = ((reader.position - start) / i) * length * 1.1;
        // A vocabulary is followed by its token types or scores (4 bytes a token) and, for BPE, merges of
        // about twice its size: asking for those too saves a round trip on every big-vocabulary model.
        const following = key === "tokenizer.ggml.tokens" && depth === 0 ? 4 * length + 2 * arrayBytes : 0;
        const projected = start + arrayBytes + following;
        throw new OutOfBytes(error.what, error.at, error.end, Math.max(error.projectedEnd, projected));
      }
    }
    return keep ? values : summary;
  }

  private readAlignment(): number {
    const { header, file } = this;
    const value = header.metadata["general.alignment"];
    if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
    const type = header.valueTypes.get("general.alignment");
    const valid =
      typeof value === "number" && Number.isSafeInteger(value) && value > 0 && (value & (value - 1)) === 0;
    if (type !== "u32" || !valid) {
      this.findings.add({
        severity: "error",
        code: "gguf.metadata.alignment",
        file,
        path: "general.alignment",
        message: `general.alignment is ${JSON.stringify(value)} (${type}); llama.cpp needs a power of two stored as u32.`,
        hint: "Re-export the model; the usual alignment is 32.",
      });
    }
    return valid ? value : GGUF_DEFAULT_ALIGNMENT;
  }

  private readTensorInfos(count: number): void {
    const { reader, header } = this;
    const start = reader.position;
    for (let i = 0; i < count; i++) {
      try {
        header.tensors.push(this.readTensorInfo(i));
      } catch (error) {
        if (!(error instanceof OutOfBytes) || i === 0) throw error;
        const projected = start + ((reader.position - start) / i) * count * 1.1 + header.alignment;
        throw new OutOfBytes(error.what, error.at, error.end, Math.max(error.projectedEnd, projected));
      }
    }
  }

  private readTensorInfo(index: number): RawTensorInfo {
    const { reader, file } = this;
    const what = `the info of tensor ${index}`;
    const name = reader.string(`the name of tensor ${index}`, MAX_KEPT_TENSOR_NAME_BYTES);
    const label = name.text ?? `tensor ${index}`;
    const dimCount = reader.u32(`the dimension count of tensor '${label}'`);
    if (dimCount > GGML_MAX_DIMS) {
      throw new Unreadable({
        severity: "error",
        code: "gguf.tensor.dims",
        file,
        tensor: label,
        message: `The tensor has ${dimCount} dimensions; ggml tensors have at most ${GGML_MAX_DIMS}.`,
        hint: "The header is corrupt or was written by an incompatible tool: re-export the model.",
      });
    }
    const dims: bigint[] = [];
    for (let d = 0; d < dimCount; d++) dims.push(reader.u64(what));
    const typeId = reader.u32(what);
    const offset = reader.u64(what);
    return { name: label, nameBytes: name.length, dims, typeId, offset };
  }
}

function jsonSafeInteger(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

function describe(
  header: Header,
  fileSize: number,
  file: string,
  findings: CappedFindings,
): { info: GgufInfo; findings: Finding[] } {
  const complete = header.end !== undefined;
  const dataOffset = complete ? alignUp(header.end!, header.alignment) : 0;
  const resolved: ResolvedTensor[] = header.tensors.map((raw) => resolveTensor(raw, file, findings));
  checkDuplicateTensorNames(header.tensors, file, findings);
  if (complete) {
    checkTensorLayout(resolved, { start: dataOffset, alignment: header.alignment, fileSize }, file, findings);
    findings.addAll(checkModelMetadata(header.metadata, header.tensors, file));
  }

  let parameters = 0n;
  let dataBytes = 0n;
  const dtypes: Record<string, bigint> = {};
  for (const t of resolved) {
    if (t.elements === undefined) continue;
    parameters += t.elements;
    const type = typeName(t);
    dtypes[type] = (dtypes[type] ?? 0n) + t.elements;
    dataBytes += t.bytes ?? 0n;
  }

  const { metadata } = header;
  const architecture =
    typeof metadata["general.architecture"] === "string" ? metadata["general.architecture"] : undefined;
  const arch = (key: string): number | undefined =>
    architecture === undefined ? undefined : countOf(metadata[`${architecture}.${key}`]);
  const contextLength = arch("context_length");
  const vocabSize = arrayLength(metadata["tokenizer.ggml.tokens"]) ?? arch("vocab_size");
  const split = readSplit(metadata);

  const info: GgufInfo = {
    version: header.version,
    ...(architecture === undefined ? {} : { architecture }),
    ...(contextLength === undefined ? {} : { contextLength }),
    metadata,
    tensors: resolved.map((t) => ({
      name: t.raw.name,
      dims: t.raw.dims.map(Number),
      type: typeName(t),
      offset: Number(t.raw.offset),
      bytes: Number(t.bytes ?? 0n),
    })),
    dataOffset,
    parameters: Number(parameters),
    dtypes: Object.fromEntries(Object.entries(dtypes).map(([k, v]) => [k, Number(v)])),
    tensorDataBytes: Number(dataBytes),
    hyperparameters: withoutUndefined({
      layers: arch("block_count"),
      embedding: arch("embedding_length"),
      headCount: arch("attention.head_count"),
      headCountKv: arch("attention.head_count_kv"),
      vocabSize,
    }),
    alignment: header.alignment,
    ...(split ? { split } : {}),
  };
  return { info, findings: findings.list() };
}

function typeName(t: ResolvedTensor): string {
  return t.type?.name ?? `unknown(${t.raw.typeId})`;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
