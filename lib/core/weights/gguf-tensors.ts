// What a GGUF tensor info means — its type, element count and byte size — and whether the tensors are laid
// out where ggml will look for them. The rules are llama.cpp's loader's (ggml/src/gguf.cpp): at most four
// dimensions, none negative, an element count that fits in int64, rows that are whole blocks of the type,
// names shorter than 64 bytes and unique, and data at aligned offsets, in header order, inside the file.

import type { CappedFindings } from "../capped-findings";
import type { Finding } from "../findings";
import { GGML_MAX_NAME, GGML_TYPE_BY_ID, type GgmlType, REMOVED_GGML_TYPES } from "./gguf-types";

/** A tensor info exactly as the header states it. */
export interface RawTensorInfo {
  readonly name: string;
  /** Length of the name in bytes, as stored. */
  readonly nameBytes: number;
  readonly dims: readonly bigint[];
  readonly typeId: number;
  /** Offset of the tensor's data from the start of the data section. */
  readonly offset: bigint;
}

export interface ResolvedTensor {
  readonly raw: RawTensorInfo;
  /** Undefined when the type id is not one ggml knows. */
  readonly type: GgmlType | undefined;
  /** Undefined when the shape is invalid (a negative dimension, or more elements than int64 holds). */
  readonly elements: bigint | undefined;
  /** Bytes of data; undefined when the type or the shape is invalid. */
  readonly bytes: bigint | undefined;
}

const INT64_MAX = (1n << 63n) - 1n;

const REEXPORT_HINT =
  "Re-export the model with llama.cpp's convert_hf_to_gguf.py or quantize it again with llama-quantize.";

export function resolveTensor(raw: RawTensorInfo, file: string, findings: CappedFindings): ResolvedTensor {
  const tensor = raw.name;
  if (raw.nameBytes >= GGML_MAX_NAME) {
    findings.add({
      severity: "error",
      code: "gguf.tensor.name-too-long",
      file,
      tensor,
      message: `The tensor name is ${raw.nameBytes} bytes long; ggml allows at most ${GGML_MAX_NAME - 1}.`,
      hint: REEXPORT_HINT,
    });
  }

  const elements = countElements(raw, file, findings);
  const type = GGML_TYPE_BY_ID.get(raw.typeId);
  if (!type) {
    const removed = REMOVED_GGML_TYPES.get(raw.typeId);
    findings.add({
      severity: "error",
      code: removed ? "gguf.tensor.type-removed" : "gguf.tensor.type-unknown",
      file,
      tensor,
      message: removed
        ? `The tensor has ggml type ${raw.typeId} (${removed}), which ggml no longer loads from GGUF files.`
        : `The tensor has ggml type ${raw.typeId}, which is not a ggml type this validator knows.`,
      hint: removed
        ? "Re-quantize the model with a current llama-quantize (repacked types are now done at load time)."
        : "Quantize the model to a standard ggml type (F16, BF16, Q8_0, Q4_K, …), or check the file is not corrupt.",
    });
    return { raw, type, elements, bytes: undefined };
  }
  if (elements === undefined) return { raw, type, elements, bytes: undefined };

  const rowLength = raw.dims[0] ?? 1n;
  if (rowLength % BigInt(type.blockSize) !== 0n) {
    findings.add({
      severity: "error",
      code: "gguf.tensor.partial-block",
      file,
      tensor,
      message:
        `The tensor is ${type.name} with rows of ${rowLength} elements, which is not a whole number of ` +
        `${type.name} blocks (${type.blockSize} elements each).`,
      hint: `Keep this tensor in F16/F32 or pick a type whose block size divides ${rowLength}.`,
    });
    return { raw, type, elements, bytes: undefined };
  }
  return { raw, type, elements, bytes: (elements / BigInt(type.blockSize)) * BigInt(type.typeSize) };
}

function countElements(raw: RawTensorInfo, file: string, findings: CappedFindings): bigint | undefined {
  const negative = raw.dims.findIndex((d) => d > INT64_MAX);
  if (negative >= 0) {
    findings.add({
      severity: "error",
      code: "gguf.tensor.dim-negative",
      file,
      tensor: raw.name,
      message: `Dimension ${negative} of the tensor is ${raw.dims[negative]}, which ggml reads as a negative number.`,
      hint: REEXPORT_HINT,
    });
    return undefined;
  }
  const elements = raw.dims.reduce((product, d) => product * d, 1n);
  if (elements > INT64_MAX) {
    findings.add({
      severity: "error",
      code: "gguf.tensor.too-many-elements",
      file,
      tensor: raw.name,
      message: `The tensor's shape [${raw.dims.join(", ")}] has ${elements} elements, more than ggml can index (2^63 − 1).`,
      hint: REEXPORT_HINT,
    });
    return undefined;
  }
  return elements;
}

export function checkDuplicateTensorNames(
  tensors: readonly RawTensorInfo[],
  file: string,
  findings: CappedFindings,
): void {
  const seen = new Set<string>();
  const reported = new Set<string>();
  for (const { name } of tensors) {
    if (seen.has(name) && !reported.has(name)) {
      reported.add(name);
      findings.add({
        severity: "error",
        code: "gguf.tensor.duplicate",
        file,
        tensor: name,
        message: "Two or more tensor infos have this name; ggml requires tensor names to be unique.",
        hint: REEXPORT_HINT,
      });
    }
    seen.add(name);
  }
}

interface DataSection {
  /** Absolute offset of the data section in the file. */
  readonly start: number;
  readonly alignment: number;
  readonly fileSize: number;
}

/**
 * Offsets aligned, data inside the file, no two tensors sharing bytes, and each tensor where llama.cpp
 * expects it: in header order, each starting where the previous one ends, padded to the alignment.
 */
export function checkTensorLayout(
  tensors: readonly ResolvedTensor[],
  data: DataSection,
  file: string,
  findings: CappedFindings,
): void {
  const alignment = BigInt(data.alignment);
  const fileSize = BigInt(data.fileSize);
  const start = BigInt(data.start);
  const flagged = new Set<ResolvedTensor>();
  const flag = (t: ResolvedTensor, finding: Finding): void => {
    flagged.add(t);
    findings.add(finding);
  };

  if (tensors.length > 0 && start > fileSize) {
    findings.add({
      severity: "error",
      code: "gguf.data.out-of-bounds",
      file,
      message: `The tensor data should start at byte ${start}, but the file is only ${fileSize} bytes long.`,
      hint: "The file is truncated: upload it again.",
    });
  }

  for (const t of tensors) {
    const { name, offset } = t.raw;
    if (offset % alignment !== 0n) {
      flag(t, {
        severity: "error",
        code: "gguf.tensor.misaligned",
        file,
        tensor: name,
        message: `The tensor's data offset ${offset} is not a multiple of the file's alignment (${alignment}).`,
        hint: REEXPORT_HINT,
      });
    }
    if (t.bytes === undefined) continue;
    const end = start + offset + t.bytes;
    if (end > fileSize) {
      flag(t, {
        severity: "error",
        code: "gguf.tensor.out-of-bounds",
        file,
        tensor: name,
        message:
          `The tensor's data spans bytes ${start + offset}–${end} of the file, ` +
          `but the file is only ${fileSize} bytes long.`,
        hint: "The file is truncated or its header is corrupt: upload it again or re-export it.",
      });
    }
  }

  const placed = tensors
    .filter((t) => t.bytes !== undefined && t.bytes > 0n)
    .sort((a, b) => (a.raw.offset < b.raw.offset ? -1 : a.raw.offset > b.raw.offset ? 1 : 0));
  for (let i = 1; i < placed.length; i++) {
    const previous = placed[i - 1]!;
    const current = placed[i]!;
    const previousEnd = previous.raw.offset + previous.bytes!;
    if (previousEnd > current.raw.offset) {
      flag(current, {
        severity: "error",
        code: "gguf.tensor.overlap",
        file,
        tensor: current.raw.name,
        message:
          `The tensor's data (from offset ${current.raw.offset}) overlaps tensor '${previous.raw.name}', ` +
          `whose data runs to offset ${previousEnd}.`,
        hint: REEXPORT_HINT,
      });
    }
  }

  let expected = 0n;
  for (const t of tensors) {
    if (t.bytes === undefined) return;
    if (!flagged.has(t) && t.raw.offset !== expected) {
      findings.add({
        severity: "error",
        code: "gguf.tensor.unexpected-offset",
        file,
        tensor: t.raw.name,
        message:
          `The tensor's data is at offset ${t.raw.offset}, but llama.cpp expects tensors stored in header order, ` +
          `each padded to ${alignment} bytes, which puts this one at offset ${expected}.`,
        hint: REEXPORT_HINT,
      });
      return;
    }
    expected += roundUp(t.bytes, alignment);
  }
}

function roundUp(value: bigint, alignment: bigint): bigint {
  return ((value + alignment - 1n) / alignment) * alignment;
}
