// Parses a safetensors file's header without trusting any of it. The layout (huggingface/safetensors):
// an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON mapping tensor names to
// `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data region that follows the
// header) plus an optional `__metadata__` string map, then the data region, which tensors must cover
// exactly: no gaps, no overlaps, nothing after the last tensor. Every problem becomes a finding naming the
// file and the tensor; nothing here throws on malformed bytes or allocates from a size the file declares.

import { CappedFindings } from "./capped-findings";
import { SAFETENSORS_DTYPES, safetensorsDtypeBits } from "./dtypes";
import type { Finding } from "./findings";
import { findDuplicateJsonKeys } from "./json-duplicate-keys";

/** Bytes of the header-length prefix. */
export const SAFETENSORS_PREFIX_BYTES = 8;
/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

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
 * the data region covered exactly once.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  file: string,
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
  const root = parseHeaderJson(headerBytes, file, findings);
  if (!root) return { findings: findings.list() };

  for (const { key, path } of findDuplicateJsonKeys(root.text)) {
    const tensor = path.length === 0 ? key : String(path[0]);
    findings.add({
      severity: "error",
      code: "safetensors.header.duplicate-key",
      file,
      ...(tensor !== "__metadata__" && { tensor }),
      message:
        path.length === 0
          ? "The header declares this tensor more than once; readers disagree on which entry wins."
          : `The entry repeats the key "${key}"; readers disagree on which value wins.`,
      hint: "Export the file again with a safetensors writer.",
    });
  }

  const metadata = readMetadata(root.value["__metadata__"], file, findings);
  const tensors: SafetensorsTensor[] = [];
  let parameters = 0n;
  const dtypes: Record<string, bigint> = {};
  for (const [name, entry] of Object.entries(root.value)) {
    if (name === "__metadata__") continue;
    const tensor = readTensor(name, entry, dataBytes, file, findings);
    if (!tensor) continue;
    tensors.push(tensor);
    if (tensor.elements !== undefined) {
      parameters += BigInt(tensor.elements);
      dtypes[tensor.dtype] = (dtypes[tensor.dtype] ?? 0n) + BigInt(tensor.elements);
    }
  }
  if (tensors.length === 0 && Object.keys(root.value).every((k) => k === "__metadata__")) {
    findings.add({
      severity: "warning",
      code: "safetensors.no-tensors",
      file,
      message: "The file holds no tensors.",
      hint: "Remove it, or export the weights into it again.",
    });
  }
  checkCoverage(tensors, dataBytes, file, findings);

  return {
    header: {
      headerLength: headerBytes.byteLength,
      metadata,
      tensors,
      parameters: safeNumber(parameters),
      dtypes: Object.fromEntries(Object.entries(dtypes).map(([k, v]) => [k, safeNumber(v)])),
      dataBytes,
    },
    findings: findings.list(),
  };
}

function invalid(finding: Finding): HeaderLocation {
  return { ok: false, findings: [finding] };
}

const textDecoder = new TextDecoder("utf-8", { fatal: true });

function parseHeaderJson(
  bytes: Uint8Array,
  file: string,
  findings: CappedFindings,
): { text: string; value: Record<string, unknown> } | undefined {
  const notJson = (message: string): undefined => {
    findings.add({
      severity: "error",
      code: "safetensors.header.invalid-json",
      file,
      message,
      hint: "The header is corrupt or the file is not safetensors: export it again.",
    });
    return undefined;
  };
  if (bytes[0] !== 0x7b) return notJson("The header must be a JSON object starting with '{'.");
  let text: string;
  try {
    text = textDecoder.decode(bytes);
  } catch {
    return notJson("The header is not valid UTF-8.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return notJson(`The header is not valid JSON (${String((error as Error).message).slice(0, 160)}).`);
  }
  if (!isPlainObject(value)) return notJson("The header must be a JSON object of tensors.");
  return { text, value };
}

function readMetadata(value: unknown, file: string, findings: CappedFindings): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    findings.add({
      severity: "error",
      code: "safetensors.metadata.invalid",
      file,
      path: "__metadata__",
      message: "`__metadata__` must be an object mapping strings to strings.",
      hint: 'Write metadata values as strings (e.g. `{"format": "pt"}`).',
    });
    return {};
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === "string") metadata[key] = entry;
    else {
      findings.add({
        severity: "error",
        code: "safetensors.metadata.invalid",
        file,
        path: `__metadata__.${key}`,
        message: `Metadata values must be strings; \`${key}\` is ${describeJsonType(entry)}.`,
        hint: "Write metadata values as strings, e.g. JSON-encode them.",
      });
    }
  }
  return metadata;
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
  const elements = dims.reduce((product, d) => product * BigInt(d), 1n);
  if (bits !== undefined && span) {
    const totalBits = elements * BigInt(bits);
    if (totalBits % 8n !== 0n) {
      report(
        "safetensors.shape.misaligned",
        `${elements} elements of ${dtype} are ${totalBits} bits, not a whole number of bytes.`,
        "Sub-byte tensors must fill whole bytes: pad the tensor.",
      );
    } else if (totalBits / 8n !== BigInt(span.end - span.begin)) {
      report(
        "safetensors.size.mismatch",
        `Shape [${dims.join(", ")}] of ${dtype} needs ${totalBits / 8n} bytes, but data_offsets [${span.begin}, ${span.end}] span ${span.end - span.begin}.`,
        "The header does not match the data: export the file again.",
      );
    }
  }
  return {
    name,
    dtype: typeof dtype === "string" ? dtype : "invalid",
    shape: dims,
    ...span,
    ...(elements <= BigInt(Number.MAX_SAFE_INTEGER) && { elements: Number(elements) }),
  };
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

function describeJsonValue(value: unknown): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
