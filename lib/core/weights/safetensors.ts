// Parses a safetensors file's header without trusting any of it. The layout (huggingface/safetensors):
// an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON mapping tensor names to
// `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data region that follows the
// header) plus an optional `__metadata__` string map, then the data region, which tensors must cover
// exactly: no gaps, no overlaps, nothing after the last tensor. Every problem becomes a finding naming the
// file and the tensor; nothing here throws on malformed bytes or allocates from a size the file declares.
//
// Bounded by design: the header is walked one tensor at a time from its bytes (never decoded whole, never
// one JSON tree), a tensor's entry is parsed only when it is small enough to be one, what is kept of the
// tensors is bounded by a budget the model's files share (a count and the bytes of their names), and
// findings are capped per kind. At the caps — a 100 MB header, 262,144 tensors, 16 Mi characters of names — a parse
// holds the header's bytes plus ~200 bytes per tensor kept and takes a few seconds; bench/hostile measures
// it through `modelship validate`.

import { CappedFindings } from "../capped-findings";
import { SAFETENSORS_DTYPES, safetensorsDtypeBits } from "./dtypes";
import type { Finding } from "../findings";
import { isValidUtf8, JsonBytes, type JsonSpan, JsonSyntaxError } from "../json-bytes";

/** Bytes of the header-length prefix. */
export const SAFETENSORS_PREFIX_BYTES = 8;
/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;
/**
 * Tensors kept from one model's headers, all files together. The largest real checkpoints have ~140,000
 * (Kimi K2: 60 MoE layers × 384 experts × 3 matrices, each with its FP8 scale); a header can declare two
 * million in 100 MB, and keeping them all would cost gigabytes.
 */
export const MAX_SAFETENSORS_TENSORS = 262_144;
/** Characters of tensor names kept from one model's headers: Kimi K2's ~140,000 names take ~8 million. */
export const MAX_SAFETENSORS_NAME_CHARS = 16 * 1024 * 1024;

/**
 * What the tensors kept from a model's headers may still take; each parse spends from it. Without it, four
 * 100 MB headers could keep two million tensors each, or a few hundred thousand names of a kilobyte.
 */
export interface TensorBudget {
  tensors: number;
  nameChars: number;
}

/** The budget of a whole model's files. */
export function modelTensorBudget(): TensorBudget {
  return { tensors: MAX_SAFETENSORS_TENSORS, nameChars: MAX_SAFETENSORS_NAME_CHARS };
}
/** A tensor's entry is ~60–100 bytes (`{"dtype":"BF16","shape":[4096,4096],"data_offsets":[0,33554432]}`). */
const MAX_TENSOR_ENTRY_BYTES = 64 * 1024;
/** Metadata values kept in the result, all together; longer metadata is checked but not kept. */
const MAX_KEPT_METADATA_CHARS = 1024 * 1024;

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Offsets in the data region; undefined when `data_offsets` is malformed. */
  readonly begin?: number;
  readonly end?: number;
  /** Elements (product of the shape); undefined when not a safe integer. */
  readonly elements?: number;
}

export interface SafetensorsHeader {
  readonly headerLength: number;
  /** `__metadata__`'s values, up to 1 Mi characters in all (the rest are checked, not kept). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor whose shape could be read, in the header's order. */
  readonly tensors: readonly SafetensorsTensor[];
  /** Exact parameter count: the sum of the tensors' element counts. */
  readonly parameters: number;
  /** Parameters per dtype, e.g. `{BF16: 1024}`. */
  readonly dtypes: Readonly<Record<string, number>>;
  /** Bytes of the data region (file size − 8 − header length). */
  readonly dataBytes: number;
}

export interface SafetensorsParseResult {
  /** Present when the header is a JSON object, even if some of it is invalid. */
  readonly header?: SafetensorsHeader;
  readonly findings: Finding[];
}

export type HeaderLocation =
  | { readonly ok: true; readonly headerLength: number; readonly headerEnd: number }
  | { readonly ok: false; readonly findings: Finding[] };

/** The header length as the file declares it: a u64, kept as a bigint until it has been checked. */
export function readHeaderLength(first8: Uint8Array): bigint | undefined {
  if (first8.byteLength < SAFETENSORS_PREFIX_BYTES) return undefined;
  return new DataView(first8.buffer, first8.byteOffset, SAFETENSORS_PREFIX_BYTES).getBigUint64(0, true);
}

/**
 * Where the JSON header lies, from the file's first bytes (at least 8) and its size: checks the declared
 * length against the file and the 100 MB cap before anyone reads or allocates that many bytes.
 */
export function locateSafetensorsHeader(prefix: Uint8Array, fileSize: number, file: string): HeaderLocation {
  const declared = readHeaderLength(prefix);
  if (declared === undefined || fileSize < SAFETENSORS_PREFIX_BYTES) {
    return invalid({
      severity: "error",
      code: "safetensors.truncated",
      file,
      message: `The file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length.`,
      hint: "The upload is incomplete or this is not a safetensors file: upload it again.",
    });
  }
  const hint = describeForeignBytes(prefix) ?? "The file is truncated or corrupt: export it again.";
  if (declared > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    return invalid({
      severity: "error",
      code: "safetensors.header.too-large",
      file,
      message: `The header length prefix says ${declared} bytes; safetensors headers are at most ${MAX_SAFETENSORS_HEADER_BYTES} bytes.`,
      hint,
    });
  }
  const headerLength = Number(declared);
  const available = fileSize - SAFETENSORS_PREFIX_BYTES;
  if (headerLength > available) {
    return invalid({
      severity: "error",
      code: "safetensors.header.beyond-file",
      file,
      message: `The header length prefix says ${headerLength} bytes, but only ${available} bytes follow it in the file.`,
      hint,
    });
  }
  return { ok: true, headerLength, headerEnd: SAFETENSORS_PREFIX_BYTES + headerLength };
}

/**
 * Parses the JSON header (the N bytes after the length prefix) of a file of `fileSize` bytes and checks
 * every tensor: known dtype, shape of non-negative integers, offsets in bounds, size = shape × dtype, and
 * the data region covered exactly once. The tensors it keeps are spent from `budget` (the model's, shared by
 * its files); a header that would overspend it is a finding, and the rest of it is not read.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  file: string,
  budget: TensorBudget = modelTensorBudget(),
): SafetensorsParseResult {
  const findings = new CappedFindings();
  const dataBytes = fileSize - SAFETENSORS_PREFIX_BYTES - headerBytes.byteLength;
  if (dataBytes < 0) {
    findings.add({
      severity: "error",
      code: "safetensors.header.beyond-file",
      file,
      message: `The header is ${headerBytes.byteLength} bytes, more than the file's ${fileSize} bytes can hold.`,
      hint: "The file is truncated: upload it again.",
    });
    return { findings: findings.list() };
  }
  const notJson = (message: string): SafetensorsParseResult => ({
    findings: [
      {
        severity: "error",
        code: "safetensors.header.invalid-json",
        file,
        message,
        hint: "The header is corrupt or the file is not safetensors: export it again.",
      },
    ],
  });
  if (headerBytes[0] !== 0x7b) return notJson("The header must be a JSON object starting with '{'.");
  if (!isValidUtf8(headerBytes)) return notJson("The header is not valid UTF-8.");

  const json = new JsonBytes(headerBytes);
  const header = new HeaderReader(json, dataBytes, file, budget, findings);
  try {
    const end = json.members(0, (name, span) => header.member(name, span));
    // Only whitespace may follow the object (the reference writer pads the header with spaces).
    if (!header.stopped) json.expectEnd(end);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return notJson(`The header is not valid JSON: ${error.message}.`);
  }
  return { header: header.finish(), findings: findings.list() };
}

/**
 * The finding for a file whose tensors overspend the budget a model's files share: at the tensor `at` (the
 * first one not kept), or before its header was read at all.
 */
export function tensorBudgetSpent(file: string, at?: string): Finding {
  const where =
    at === undefined
      ? "this file's header was not read"
      : `this file's go past that at '${at.slice(0, 200)}', and the rest of its header was not read`;
  return {
    severity: "error",
    code: "safetensors.tensors.too-many",
    file,
    message: `The model's files declare more tensors than modelship checks (${MAX_SAFETENSORS_TENSORS} in all, with ${MAX_SAFETENSORS_NAME_CHARS} characters of names); ${where}.`,
    hint: "Real checkpoints hold at most ~150,000 tensors with names of ~60 bytes; these headers are corrupt or hostile: export the model again.",
  };
}

/** A sum of safe integers, exact at any size: added as numbers while they fit, carried into a bigint. */
class ExactSum {
  private carried = 0n;
  private current = 0;

  add(value: number): void {
    if (this.current > Number.MAX_SAFE_INTEGER - value) {
      this.carried += BigInt(this.current);
      this.current = 0;
    }
    this.current += value;
  }

  total(): bigint {
    return this.carried + BigInt(this.current);
  }
}

function invalid(finding: Finding): HeaderLocation {
  return { ok: false, findings: [finding] };
}

/** The header's members, read one at a time: what is kept of them and the findings they earn. */
class HeaderReader {
  readonly tensors: SafetensorsTensor[] = [];
  /** True once the budget was spent and the walk was stopped. */
  stopped = false;
  private readonly names = new Set<string>();
  private readonly metadata: Record<string, string> = {};
  private metadataSeen = false;
  private readonly parameters = new ExactSum();
  /** A Map, not an object: a dtype is the file's text, and `__proto__` must be a key like any other. */
  private readonly dtypes = new Map<string, ExactSum>();

  /** The entry being read, by one visitor made once rather than a closure per tensor. */
  private entry: TensorEntry = {};
  private entryName = "";
  private readonly entryKeys = new KeysSeen();
  private readonly readEntryField = (key: string, value: JsonSpan): void => {
    const { json } = this;
    if (this.entryKeys.repeats(key)) {
      this.findings.add({
        severity: "error",
        code: "safetensors.header.duplicate-key",
        file: this.file,
        tensor: this.entryName,
        message: `The entry repeats the key "${key.slice(0, 40)}"; readers disagree on which value wins.`,
        hint: "Export the file again with a safetensors writer.",
      });
      return;
    }
    if (key === "dtype") this.entry.dtype = json.string(value) ?? json.value(value);
    else if (key === "shape") this.entry.shape = json.numbers(value) ?? json.value(value);
    else if (key === "data_offsets") this.entry.data_offsets = json.numbers(value) ?? json.value(value);
  };

  constructor(
    private readonly json: JsonBytes,
    private readonly dataBytes: number,
    private readonly file: string,
    private readonly budget: TensorBudget,
    private readonly findings: CappedFindings,
  ) {}

  /** One member of the header; false stops the walk. */
  member(name: string, span: JsonSpan): boolean {
    const { file, findings } = this;
    const repeated = name === "__metadata__" ? this.metadataSeen : this.names.has(name);
    if (repeated) {
      // The first entry is the one checked: readers disagree on which wins, so neither is trustworthy.
      findings.add({
        severity: "error",
        code: "safetensors.header.duplicate-key",
        file,
        ...(name !== "__metadata__" && { tensor: name }),
        message: "The header declares this tensor more than once; readers disagree on which entry wins.",
        hint: "Export the file again with a safetensors writer.",
      });
      return true;
    }
    if (name === "__metadata__") {
      this.metadataSeen = true;
      this.readMetadata(span);
      return true;
    }
    if (this.budget.tensors < 1 || this.budget.nameChars < name.length) {
      findings.add(tensorBudgetSpent(file, name));
      this.stopped = true;
      return false;
    }
    this.budget.tensors -= 1;
    this.budget.nameChars -= name.length;
    this.names.add(name);
    const tensor = this.readEntry(name, span);
    if (!tensor) return true;
    this.tensors.push(tensor);
    if (tensor.elements !== undefined) {
      this.parameters.add(tensor.elements);
      let byType = this.dtypes.get(tensor.dtype);
      if (!byType) this.dtypes.set(tensor.dtype, (byType = new ExactSum()));
      byType.add(tensor.elements);
    }
    return true;
  }

  finish(): SafetensorsHeader {
    const { tensors, dataBytes, file, findings } = this;
    if (tensors.length === 0 && this.names.size === 0 && !this.stopped) {
      findings.add({
        severity: "warning",
        code: "safetensors.no-tensors",
        file,
        message: "The file holds no tensors.",
        hint: "Remove it, or export the weights into it again.",
      });
    }
    if (!this.stopped) checkCoverage(tensors, dataBytes, file, findings);
    return {
      headerLength: this.json.length,
      metadata: this.metadata,
      tensors,
      parameters: safeNumber(this.parameters.total()),
      dtypes: Object.fromEntries([...this.dtypes].map(([k, v]) => [k, safeNumber(v.total())])),
      dataBytes,
    };
  }

  /**
   * A tensor's entry, read only when it is small enough to be one: its keys checked for repeats (the first
   * of each is read), `shape` and `data_offsets` read as lists of numbers straight from the bytes, anything
   * else as JSON.parse reads it, for the message that says what it is.
   */
  private readEntry(name: string, span: JsonSpan): SafetensorsTensor | undefined {
    const { json, file, findings } = this;
    const bytes = span.end - span.start;
    if (bytes > MAX_TENSOR_ENTRY_BYTES) {
      findings.add({
        severity: "error",
        code: "safetensors.tensor.invalid",
        file,
        tensor: name,
        message: `The entry is ${bytes} bytes; a tensor's {dtype, shape, data_offsets} takes under 1 KiB, so it was not read.`,
        hint: "Export the file again with a safetensors writer.",
      });
      return undefined;
    }
    if (json.peek(span.start) !== 0x7b) {
      return readTensor(name, json.value(span), this.dataBytes, file, findings);
    }
    this.entry = {};
    this.entryName = name;
    this.entryKeys.reset();
    json.members(span.start, this.readEntryField);
    return readTensor(name, this.entry, this.dataBytes, file, findings);
  }

  private readMetadata(span: JsonSpan): void {
    const { json, file, findings } = this;
    if (json.peek(span.start) !== 0x7b) {
      findings.add({
        severity: "error",
        code: "safetensors.metadata.invalid",
        file,
        path: "__metadata__",
        message: "`__metadata__` must be an object mapping strings to strings.",
        hint: 'Write metadata values as strings (e.g. `{"format": "pt"}`).',
      });
      return;
    }
    let kept = 0;
    const keys = new Set<string>();
    json.members(span.start, (key, value) => {
      if (keys.has(key)) {
        findings.add({
          severity: "error",
          code: "safetensors.header.duplicate-key",
          file,
          path: `__metadata__.${key}`,
          message: `The metadata repeats the key "${key.slice(0, 40)}"; readers disagree on which value wins.`,
          hint: "Export the file again with a safetensors writer.",
        });
        return;
      }
      keys.add(key);
      const first = json.peek(value.start);
      if (first !== 0x22) {
        findings.add({
          severity: "error",
          code: "safetensors.metadata.invalid",
          file,
          path: `__metadata__.${key}`,
          message: `Metadata values must be strings; \`${key}\` is ${describeJsonStart(first)}.`,
          hint: "Write metadata values as strings, e.g. JSON-encode them.",
        });
        return;
      }
      if (kept + (value.end - value.start) > MAX_KEPT_METADATA_CHARS) return;
      const text = json.string(value) ?? "";
      kept += text.length;
      Object.defineProperty(this.metadata, key, {
        value: text,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
  }
}

/** The keys of one entry so far, without an allocation for the three every entry has. */
class KeysSeen {
  private known = 0;
  private others: Set<string> | undefined;

  /** Forgets the keys, for the next entry. */
  reset(): void {
    this.known = 0;
    this.others = undefined;
  }

  /** Whether `key` was seen before in this entry (and notes it). */
  repeats(key: string): boolean {
    const bit = key === "dtype" ? 1 : key === "shape" ? 2 : key === "data_offsets" ? 4 : 0;
    if (bit !== 0) {
      const seen = (this.known & bit) !== 0;
      this.known |= bit;
      return seen;
    }
    this.others ??= new Set();
    const seen = this.others.has(key);
    this.others.add(key);
    return seen;
  }
}

/** The fields of a tensor's entry that are read; other keys are ignored, as the reference reader does. */
interface TensorEntry {
  dtype?: unknown;
  shape?: unknown;
  data_offsets?: unknown;
}

function readTensor(
  name: string,
  entry: unknown,
  dataBytes: number,
  file: string,
  findings: CappedFindings,
): SafetensorsTensor | undefined {
  const report = (code: string, message: string, hint: string): void =>
    findings.add({ severity: "error", code, file, tensor: name, message, hint });
  if (!isPlainObject(entry)) {
    report(
      "safetensors.tensor.invalid",
      `The entry is ${describeJsonType(entry)}; expected {dtype, shape, data_offsets}.`,
      "Export the file again with a safetensors writer.",
    );
    return undefined;
  }
  const { dtype, shape, data_offsets: offsets } = entry;

  let bits: number | undefined;
  if (typeof dtype !== "string") {
    report(
      "safetensors.dtype.invalid",
      `\`dtype\` is ${describeJsonType(dtype)}; expected a dtype name such as "BF16".`,
      `Use one of ${SAFETENSORS_DTYPES.join(", ")}.`,
    );
  } else {
    bits = safetensorsDtypeBits(dtype);
    if (bits === undefined) {
      report(
        "safetensors.dtype.unknown",
        `Unknown dtype "${dtype.slice(0, 40)}".`,
        `safetensors defines ${SAFETENSORS_DTYPES.join(", ")}.`,
      );
    }
  }

  const dims = readShape(shape);
  if (!dims) {
    report(
      "safetensors.shape.invalid",
      `\`shape\` is ${describeJsonValue(shape)}; expected a list of non-negative integers.`,
      "Export the file again with a safetensors writer.",
    );
  }

  const span = readOffsets(offsets);
  if (!span) {
    report(
      "safetensors.offsets.invalid",
      `\`data_offsets\` is ${describeJsonValue(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end.`,
      "Export the file again with a safetensors writer.",
    );
  } else if (span.end > dataBytes) {
    report(
      "safetensors.offsets.out-of-bounds",
      `\`data_offsets\` [${span.begin}, ${span.end}] reach past the data region, which is ${dataBytes} bytes.`,
      "The file is truncated or its header is wrong: upload it again.",
    );
  }

  if (!dims) return undefined;
  const elements = productOf(dims);
  if (bits !== undefined && span) {
    const spanBytes = span.end - span.begin;
    // In numbers while they are exact (every real tensor); in bigints past 2^53.
    const exact = typeof elements === "number" && Number.isSafeInteger(elements * bits);
    const totalBits = exact ? (elements as number) * bits : BigInt(elements) * BigInt(bits);
    const whole = exact ? (totalBits as number) % 8 === 0 : (totalBits as bigint) % 8n === 0n;
    const bytes = exact ? (totalBits as number) / 8 : (totalBits as bigint) / 8n;
    if (!whole) {
      report(
        "safetensors.shape.misaligned",
        `${elements} elements of ${dtype} are ${totalBits} bits, not a whole number of bytes.`,
        "Sub-byte tensors must fill whole bytes: pad the tensor.",
      );
    } else if (exact ? bytes !== spanBytes : bytes !== BigInt(spanBytes)) {
      report(
        "safetensors.size.mismatch",
        `Shape [${dims.join(", ")}] of ${dtype} needs ${bytes} bytes, but data_offsets [${span.begin}, ${span.end}] span ${spanBytes}.`,
        "The header does not match the data: export the file again.",
      );
    }
  }
  const tensor: { -readonly [K in keyof SafetensorsTensor]: SafetensorsTensor[K] } = {
    name,
    dtype: typeof dtype === "string" ? dtype : "invalid",
    shape: dims,
  };
  if (span) {
    tensor.begin = span.begin;
    tensor.end = span.end;
  }
  if (typeof elements === "number") tensor.elements = elements;
  return tensor;
}

/** Tensors must tile the data region: sorted by offset, each begins where the previous one ended. */
function checkCoverage(
  tensors: readonly SafetensorsTensor[],
  dataBytes: number,
  file: string,
  findings: CappedFindings,
): void {
  const placed = tensors
    .filter((t): t is SafetensorsTensor & { begin: number; end: number } => t.begin !== undefined)
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last: string | undefined;
  for (const tensor of placed) {
    if (tensor.begin > covered) {
      findings.add({
        severity: "error",
        code: "safetensors.offsets.gap",
        file,
        tensor: tensor.name,
        message: `Bytes ${covered}–${tensor.begin} of the data region, before this tensor${last ? ` and after '${last}'` : ""}, belong to no tensor.`,
        hint: "Hidden bytes between tensors are refused: export the file again with a safetensors writer.",
      });
    } else if (tensor.begin < covered) {
      findings.add({
        severity: "error",
        code: "safetensors.offsets.overlap",
        file,
        tensor: tensor.name,
        message: `data_offsets [${tensor.begin}, ${tensor.end}] overlap '${last}', which ends at ${covered}.`,
        hint: "Each tensor needs its own bytes: export the file again with a safetensors writer.",
      });
    }
    if (tensor.end >= covered) {
      covered = tensor.end;
      last = tensor.name;
    }
  }
  if (covered < dataBytes) {
    findings.add({
      severity: "error",
      code: "safetensors.data.trailing-bytes",
      file,
      message: `The last ${dataBytes - covered} bytes of the file belong to no tensor (tensors end at ${covered} of ${dataBytes} data bytes).`,
      hint: "The file has extra bytes appended or its header lost tensors: export it again.",
    });
  }
}

/** The product of `dims`, exactly: a number while it is a safe integer (nearly always), else a bigint. */
function productOf(dims: readonly number[]): number | bigint {
  let product = 1;
  for (const d of dims) {
    product *= d;
    if (!Number.isSafeInteger(product)) return dims.reduce((exact, e) => exact * BigInt(e), 1n);
  }
  return product;
}

function readShape(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const dims: number[] = [];
  for (const d of value) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return undefined;
    dims.push(d);
  }
  return dims;
}

function readOffsets(value: unknown): { begin: number; end: number } | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [begin, end] = value as unknown[];
  if (typeof begin !== "number" || typeof end !== "number") return undefined;
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin)
    return undefined;
  return { begin, end };
}

/** Recognises files that are often uploaded under a .safetensors name by mistake. */
function describeForeignBytes(prefix: Uint8Array): string | undefined {
  const head = String.fromCharCode(...prefix.subarray(0, 24));
  if (head.startsWith("version https://git-lfs")) {
    return "This is a Git LFS pointer, not the weights: run `git lfs pull` and upload the real file.";
  }
  if (head.startsWith("PK\u0003\u0004")) {
    return "This is a zip archive (a PyTorch pickle checkpoint?), not safetensors: convert it with safetensors.";
  }
  if (head.startsWith("GGUF")) return "This is a GGUF file: name it *.gguf.";
  return undefined;
}

function safeNumber(value: bigint): number {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.MAX_SAFE_INTEGER;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (value === undefined) return "missing";
  return `a ${typeof value}`;
}

/** What a JSON value is, from its first byte. */
function describeJsonStart(first: number | undefined): string {
  if (first === 0x7b) return "an object";
  if (first === 0x5b) return "a list";
  if (first === 0x74 || first === 0x66) return "a boolean";
  if (first === 0x6e) return "null";
  return "a number";
}

function describeJsonValue(value: unknown): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
