// Whether a GGUF file's metadata says enough to serve it as a chat model: an architecture, its context
// length, a tokenizer with its vocabulary (matching the embedding), and a chat template. Shards after the
// first of a split model (gguf-split) carry only tensors, so they are not asked for any of it.

import type { Finding } from "../findings";
import type { RawTensorInfo } from "./gguf-tensors";

/** Where a file sits in a split model: `index` counts from 0, as `split.no` does. */
export interface GgufSplit {
  readonly index: number;
  readonly count: number;
}

const CONVERT_HINT = "Convert the model with llama.cpp's convert_hf_to_gguf.py, which writes this metadata.";

export function readSplit(metadata: Readonly<Record<string, unknown>>): GgufSplit | undefined {
  const count = countOf(metadata["split.count"]);
  const index = countOf(metadata["split.no"]);
  return count !== undefined && count > 1 && index !== undefined ? { index, count } : undefined;
}

/** The length of an array value, whether it was kept whole or summarized. */
export function arrayLength(value: unknown): number | undefined {
  if (Array.isArray(value)) return value.length;
  if (value && typeof value === "object" && (value as { type?: unknown }).type === "array") {
    const length = (value as { length?: unknown }).length;
    return typeof length === "number" ? length : undefined;
  }
  return undefined;
}

/** A metadata value that is a non-negative integer, or undefined. */
export function countOf(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

export function checkModelMetadata(
  metadata: Readonly<Record<string, unknown>>,
  tensors: readonly RawTensorInfo[],
  file: string,
): Finding[] {
  const split = readSplit(metadata);
  if (split && split.index > 0) return [];

  const findings: Finding[] = [];
  if (tensors.length === 0 && !split) {
    findings.push({
      severity: "error",
      code: "gguf.tensors.none",
      file,
      message: "The file has no tensors, so it holds no model weights.",
      hint: "Upload the GGUF file that contains the weights (a vocab-only GGUF cannot be served).",
    });
  }

  const architecture = metadata["general.architecture"];
  if (typeof architecture !== "string" || architecture === "") {
    findings.push({
      severity: "error",
      code: "gguf.metadata.architecture-missing",
      file,
      path: "general.architecture",
      message: "The metadata has no general.architecture string, so no runtime knows how to build the model.",
      hint: CONVERT_HINT,
    });
  } else {
    const key = `${architecture}.context_length`;
    if (countOf(metadata[key]) === undefined) {
      findings.push({
        severity: "error",
        code: "gguf.metadata.context-length-missing",
        file,
        path: key,
        message: `The metadata has no ${key} (a non-negative integer): the runtime cannot size its context.`,
        hint: CONVERT_HINT,
      });
    }
  }

  findings.push(...checkTokenizer(metadata, tensors, file));
  findings.push(...checkLayerCount(metadata, architecture, tensors, file));
  return findings;
}

function checkTokenizer(
  metadata: Readonly<Record<string, unknown>>,
  tensors: readonly RawTensorInfo[],
  file: string,
): Finding[] {
  const findings: Finding[] = [];
  const model = metadata["tokenizer.ggml.model"];
  if (typeof model !== "string" || model === "" || model === "none" || model === "no_vocab") {
    findings.push({
      severity: "error",
      code: "gguf.tokenizer.missing",
      file,
      path: "tokenizer.ggml.model",
      message:
        typeof model === "string" && model !== ""
          ? `The tokenizer model is '${model}': the file has no vocabulary, so it cannot serve text.`
          : "The metadata has no tokenizer.ggml.model: the file carries no tokenizer.",
      hint: CONVERT_HINT,
    });
  }

  const vocabulary = arrayLength(metadata["tokenizer.ggml.tokens"]);
  if (vocabulary === undefined) {
    findings.push({
      severity: "error",
      code: "gguf.tokenizer.tokens-missing",
      file,
      path: "tokenizer.ggml.tokens",
      message: "The metadata has no tokenizer.ggml.tokens array: the file carries no vocabulary.",
      hint: CONVERT_HINT,
    });
  } else {
    const embedding = tensors.find((t) => t.name === "token_embd.weight");
    const rows = embedding?.dims[1];
    if (rows !== undefined && rows !== BigInt(vocabulary)) {
      findings.push({
        severity: "error",
        code: "gguf.tokenizer.vocab-mismatch",
        file,
        tensor: "token_embd.weight",
        message: `The vocabulary has ${vocabulary} tokens, but the token embedding has ${rows} rows; they must match.`,
        hint: "Convert the model again from a checkpoint whose tokenizer matches its embedding.",
      });
    }
  }

  if (
    typeof metadata["tokenizer.chat_template"] !== "string" &&
    !isSummarizedString(metadata["tokenizer.chat_template"])
  ) {
    findings.push({
      severity: "warning",
      code: "gguf.tokenizer.chat-template-missing",
      file,
      path: "tokenizer.chat_template",
      message:
        "The metadata has no tokenizer.chat_template: chat requests will use the runtime's default format.",
      hint: "Convert the model from a checkpoint whose tokenizer_config.json has a chat_template.",
    });
  }
  return findings;
}

function checkLayerCount(
  metadata: Readonly<Record<string, unknown>>,
  architecture: unknown,
  tensors: readonly RawTensorInfo[],
  file: string,
): Finding[] {
  if (typeof architecture !== "string") return [];
  const key = `${architecture}.block_count`;
  const declared = countOf(metadata[key]);
  const blocks = new Set<string>();
  for (const { name } of tensors) {
    const match = /^blk\.(\d+)\./.exec(name);
    if (match) blocks.add(match[1]!);
  }
  if (declared === undefined || blocks.size === 0 || blocks.size === declared) return [];
  return [
    {
      severity: "warning",
      code: "gguf.metadata.block-count-mismatch",
      file,
      path: key,
      message: `The metadata declares ${declared} blocks, but the file has tensors for ${blocks.size} (blk.N).`,
      hint: "Check that the file is complete and was converted from the intended checkpoint.",
    },
  ];
}

function isSummarizedString(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as { type?: unknown }).type === "string";
}
