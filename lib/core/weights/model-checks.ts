// Checks that a safetensors model folder hangs together: the shard index against the shards' headers,
// config.json against the tensors it describes, the tokenizer files serving needs, and the manifest's
// file list against what is really in the bucket. Pure: callers read the files and pass their contents.

import { CappedFindings } from "../capped-findings";
import type { Finding } from "../findings";
import type { ListedFile } from "./model-files";

/** A tensor's shape and where it lives, as the shards' headers declare it. */
export interface TensorLocation {
  readonly file: string;
  readonly shape: readonly number[];
}

/** What config.json (or a GGUF's metadata) says about the network, as far as sizing needs it. */
export interface ModelShape {
  readonly architecture?: string;
  readonly layers?: number;
  readonly hidden?: number;
  readonly heads?: number;
  readonly kvHeads?: number;
  readonly headDim?: number;
  readonly vocabSize?: number;
  /** The longest context the model was built for (`max_position_embeddings`, GGUF `context_length`). */
  readonly contextLength?: number;
}

/**
 * Every tensor name declared by more than one weight file (or twice in the index's view of them).
 * `tensorsByFile` maps each shard to the tensor names its header declares.
 */
export function checkDuplicateTensors(tensorsByFile: ReadonlyMap<string, readonly string[]>): Finding[] {
  const findings = new CappedFindings();
  const firstSeen = new Map<string, string>();
  for (const [file, names] of tensorsByFile) {
    for (const name of names) {
      const other = firstSeen.get(name);
      if (other === undefined) firstSeen.set(name, file);
      else if (other !== file) {
        findings.add({
          severity: "error",
          code: "safetensors.tensor.in-two-files",
          file,
          tensor: name,
          message: `The tensor is also in ${other}; a loader would keep whichever it reads last.`,
          hint: "Remove the stale copy: a shard from another export of the model is probably mixed in.",
        });
      }
    }
  }
  return findings.list();
}

/** What the checks read of `model.safetensors.index.json` (core/weights/model-json-files reads it from the bytes). */
export interface ShardIndex {
  /** Tensor name → shard file; undefined when the index has no weight_map of strings. */
  readonly weightMap?: ReadonlyMap<string, string>;
  /** `metadata.total_size`, when it is a safe integer. */
  readonly totalSize?: number;
}

/**
 * `model.safetensors.index.json` against the shards: every tensor of `weight_map` is in the shard it
 * names, every named shard exists, every shard is named, and every shard's tensors are in the map.
 * `tensorsByFile` holds the tensor names of every safetensors file that could be parsed; `listed` is
 * every safetensors file in the folder (parsed or not). Linear in the entries and tensors.
 */
export function checkShardIndex(
  index: ShardIndex,
  indexFile: string,
  tensorsByFile: ReadonlyMap<string, readonly string[]>,
  listed: readonly string[],
  dataBytesByFile: ReadonlyMap<string, number>,
): Finding[] {
  const findings = new CappedFindings();
  const { weightMap } = index;
  if (!weightMap) {
    findings.add({
      severity: "error",
      code: "index.invalid",
      file: indexFile,
      path: "weight_map",
      message: "The index has no `weight_map` object mapping tensor names to shard file names.",
      hint: 'Write it as {"metadata": {"total_size": N}, "weight_map": {"<tensor>": "<shard file>"}}.',
    });
    return findings.list();
  }
  const tensorFile = new Map<string, string>();
  for (const [file, names] of tensorsByFile) for (const name of names) tensorFile.set(name, file);

  const tensorsPerShard = new Map<string, number>();
  for (const shard of weightMap.values()) tensorsPerShard.set(shard, (tensorsPerShard.get(shard) ?? 0) + 1);
  const listedSet = new Set(listed);
  for (const [shard, count] of tensorsPerShard) {
    if (!listedSet.has(shard)) {
      findings.add({
        severity: "error",
        code: "index.shard-missing",
        file: shard,
        message: `The index maps ${count} tensor(s) to this shard, but it is not in the folder.`,
        hint: "Upload the missing shard (an interrupted upload?).",
      });
    }
  }
  for (const shard of listed) {
    if (!tensorsPerShard.has(shard)) {
      findings.add({
        severity: "error",
        code: "index.shard-unreferenced",
        file: shard,
        message: `The shard is in the folder but ${indexFile} maps no tensor to it.`,
        hint: "Remove the stray file, or regenerate the index from the shards that belong together.",
      });
    }
  }
  for (const [tensor, shard] of weightMap) {
    if (!listedSet.has(shard) || !tensorsByFile.has(shard)) continue;
    const actual = tensorFile.get(tensor);
    if (actual === shard) continue;
    findings.add({
      severity: "error",
      code: "index.tensor-not-in-shard",
      file: shard,
      tensor,
      message:
        actual === undefined
          ? `${indexFile} says this tensor is in ${shard}, but no shard declares it.`
          : `${indexFile} says this tensor is in ${shard}, but it is in ${actual}.`,
      hint: "The index and the shards come from different exports: upload a matching set.",
    });
  }
  for (const [file, names] of tensorsByFile) {
    for (const name of names) {
      if (!weightMap.has(name)) {
        findings.add({
          severity: "error",
          code: "index.tensor-unlisted",
          file,
          tensor: name,
          message: `The shard declares this tensor but ${indexFile} does not list it, so loaders skip it.`,
          hint: "Regenerate the index from the shards.",
        });
      }
    }
  }
  const { totalSize } = index;
  const referenced = [...tensorsPerShard.keys()];
  if (totalSize !== undefined && referenced.every((f) => dataBytesByFile.has(f))) {
    const actual = referenced.reduce((sum, f) => sum + (dataBytesByFile.get(f) ?? 0), 0);
    if (actual !== totalSize) {
      findings.add({
        severity: "warning",
        code: "index.total-size",
        file: indexFile,
        path: "metadata.total_size",
        message: `metadata.total_size is ${totalSize}, but the shards hold ${actual} bytes of tensor data.`,
        hint: "Regenerate the index from the shards.",
      });
    }
  }
  return findings.list();
}

const EMBEDDING_SUFFIXES = ["embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight"];
const LAYER_PATTERN = /(?:^|\.)model\.layers\.(\d+)\./;

/**
 * config.json against the tensors: `architectures` present, vocabulary size and hidden size against the
 * embedding matrix (and the output head, when there is one), `num_hidden_layers` against the
 * `model.layers.N.` blocks found. Returns the shape that GPU sizing needs.
 */
export function checkConfig(
  config: unknown,
  tensors: ReadonlyMap<string, TensorLocation>,
): { shape: ModelShape; findings: Finding[] } {
  const file = "config.json";
  const findings: Finding[] = [];
  if (!isObject(config)) {
    findings.push({
      severity: "error",
      code: "config.invalid",
      file,
      message: "config.json must be a JSON object.",
      hint: "Upload the config.json that came with the model.",
    });
    return { shape: {}, findings };
  }
  const architectures: unknown = config["architectures"];
  const names = Array.isArray(architectures) ? (architectures as unknown[]) : [];
  const architecture = typeof names[0] === "string" && names[0] !== "" ? names[0] : undefined;
  if (!architecture || !names.every((a) => typeof a === "string" && a.length > 0)) {
    findings.push({
      severity: "error",
      code: "config.architectures",
      file,
      path: "architectures",
      message:
        "`architectures` is missing or not a list of class names; serving picks the model class from it.",
      hint: 'Add e.g. "architectures": ["LlamaForCausalLM"].',
    });
  }

  const text = isObject(config["text_config"]) ? config["text_config"] : {};
  const number = (...keys: string[]): number | undefined => {
    for (const source of [config, text]) {
      for (const key of keys) {
        const v = source[key];
        if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
      }
    }
    return undefined;
  };
  const vocabSize = number("vocab_size");
  const hidden = number("hidden_size", "n_embd", "d_model");
  const layers = number("num_hidden_layers", "n_layer", "num_layers");
  const heads = number("num_attention_heads", "n_head");
  const kvHeads = number("num_key_value_heads") ?? heads;
  const headDim =
    number("head_dim") ?? (hidden && heads && hidden % heads === 0 ? hidden / heads : undefined);
  const contextLength = number("max_position_embeddings", "n_positions", "max_sequence_length");

  const embedding = findEmbedding(tensors);
  if (!embedding) {
    findings.push({
      severity: "info",
      code: "config.embedding-not-found",
      file,
      message:
        "No embedding tensor (…embed_tokens.weight) was recognised; vocabulary and hidden sizes were not checked against the weights.",
    });
  } else {
    const [rows, cols] = embedding.location.shape;
    findings.push(
      ...compareDimension(vocabSize, rows, "vocab_size", embedding.name, embedding.location.file, "rows"),
      ...compareDimension(hidden, cols, "hidden_size", embedding.name, embedding.location.file, "columns"),
    );
    const head = tensors.get(embedding.name.replace(/model\.embed_tokens\.weight$/, "lm_head.weight"));
    if (head && embedding.name.endsWith("model.embed_tokens.weight")) {
      const headName = embedding.name.replace(/model\.embed_tokens\.weight$/, "lm_head.weight");
      const [headRows, headCols] = head.shape;
      findings.push(
        ...compareDimension(vocabSize, headRows, "vocab_size", headName, head.file, "rows"),
        ...compareDimension(hidden, headCols, "hidden_size", headName, head.file, "columns"),
      );
    }
  }

  findings.push(...checkLayers(layers, tensors));
  return {
    shape: { architecture, layers, hidden, heads, kvHeads, headDim, vocabSize, contextLength },
    findings,
  };
}

function findEmbedding(
  tensors: ReadonlyMap<string, TensorLocation>,
): { name: string; location: TensorLocation } | undefined {
  const exact = tensors.get("model.embed_tokens.weight");
  if (exact) return { name: "model.embed_tokens.weight", location: exact };
  for (const [name, location] of tensors) {
    if (EMBEDDING_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`)) && location.shape.length === 2) {
      return { name, location };
    }
  }
  return undefined;
}

function compareDimension(
  expected: number | undefined,
  actual: number | undefined,
  key: string,
  tensor: string,
  file: string,
  what: "rows" | "columns",
): Finding[] {
  if (expected === undefined || actual === expected) return [];
  return [
    {
      severity: "error",
      code: `config.${key.replace(/_/g, "-")}`,
      file,
      tensor,
      path: key,
      message:
        actual === undefined
          ? `The tensor is not a matrix, so its ${what} cannot match config.json ${key} = ${expected}.`
          : `The tensor has ${actual} ${what}, but config.json says ${key} = ${expected}.`,
      hint: "config.json and the weights come from different models or exports: upload the matching pair.",
    },
  ];
}

/**
 * num_hidden_layers against the `model.layers.N.` blocks found. Bounded by the tensors, not by the number
 * config.json claims: a claim of 10^12 layers costs what the weights' layer numbers cost.
 */
function checkLayers(layers: number | undefined, tensors: ReadonlyMap<string, TensorLocation>): Finding[] {
  const found = new Set<number>();
  for (const name of tensors.keys()) {
    const match = LAYER_PATTERN.exec(name);
    if (match) found.add(Number(match[1]));
  }
  if (layers === undefined) {
    return [
      {
        severity: "warning",
        code: "config.num-hidden-layers",
        file: "config.json",
        path: "num_hidden_layers",
        message:
          "config.json does not say num_hidden_layers; the layer count was not checked and the KV cache not sized.",
        hint: "Upload the config.json that came with the model.",
      },
    ];
  }
  if (found.size === 0) {
    return [
      {
        severity: "info",
        code: "config.layers-not-found",
        file: "config.json",
        message:
          "No `model.layers.N.` tensors were found, so num_hidden_layers was not checked against the weights.",
      },
    ];
  }
  const present = [...found].filter((i) => i < layers).length;
  const missingCount = layers - present;
  // The first few missing layer numbers: each step passes a found layer or finds a missing one.
  const firstMissing: number[] = [];
  for (let i = 0; i < layers && firstMissing.length < SHOWN_NUMBERS; i++)
    if (!found.has(i)) firstMissing.push(i);
  const extra = [...found].filter((i) => i >= layers).sort((a, b) => a - b);
  if (missingCount === 0 && extra.length === 0) return [];
  const parts = [
    missingCount > 0 && `layers ${summariseNumbers(firstMissing, missingCount)} are missing`,
    extra.length > 0 &&
      `layers ${summariseNumbers(extra.slice(0, SHOWN_NUMBERS), extra.length)} are beyond it`,
  ].filter(Boolean);
  return [
    {
      severity: "error",
      code: "config.num-hidden-layers",
      file: "config.json",
      path: "num_hidden_layers",
      message: `config.json says num_hidden_layers = ${layers}, but the weights hold ${found.size} layer(s): ${parts.join(" and ")}.`,
      hint: "A shard is missing or config.json belongs to another model: upload the complete, matching set.",
    },
  ];
}

/** Layer numbers a message lists before it says how many there are in all. */
const SHOWN_NUMBERS = 8;

/** `2, 3, 4` or `2, 3, …, 9, … (99999998 in all)`: the first numbers of `total`. */
function summariseNumbers(first: readonly number[], total: number): string {
  const shown = first.slice(0, SHOWN_NUMBERS).join(", ");
  return total > SHOWN_NUMBERS ? `${shown}, … (${total} in all)` : shown;
}

/**
 * The tokenizer serving needs: `tokenizer.json`, or a SentencePiece `tokenizer.model` with its
 * `tokenizer_config.json`. A missing chat template (in tokenizer_config.json or chat_template.jinja/.json)
 * is a warning: chat requests need one, completions do not.
 */
export function checkTokenizer(paths: ReadonlySet<string>, tokenizerConfig: unknown): Finding[] {
  const findings: Finding[] = [];
  const hasFast = paths.has("tokenizer.json");
  const hasSentencePiece = paths.has("tokenizer.model") && paths.has("tokenizer_config.json");
  if (!hasFast && !hasSentencePiece) {
    findings.push({
      severity: "error",
      code: "tokenizer.missing",
      message: paths.has("tokenizer.model")
        ? "tokenizer.model is there but tokenizer_config.json is not; serving cannot build the tokenizer."
        : "No tokenizer: the folder has neither tokenizer.json nor tokenizer.model + tokenizer_config.json.",
      hint: "Upload the tokenizer files that came with the model (`tokenizer.save_pretrained(dir)`).",
    });
  }
  const template = isObject(tokenizerConfig) ? tokenizerConfig["chat_template"] : undefined;
  const hasTemplate =
    (typeof template === "string" && template.trim().length > 0) ||
    (Array.isArray(template) && template.length > 0) ||
    paths.has("chat_template.jinja") ||
    paths.has("chat_template.json");
  if (!hasTemplate) {
    findings.push({
      severity: "warning",
      code: "tokenizer.chat-template-missing",
      file: paths.has("tokenizer_config.json") ? "tokenizer_config.json" : undefined,
      message: "No chat template: /v1/chat/completions requests will fail; only plain completions work.",
      hint: "Add `chat_template` to tokenizer_config.json or a chat_template.jinja file (an instruct model's template).",
    });
  }
  return findings;
}

/** A file as the store lists it, with the checksum the store reports (S3 `ChecksumSHA256`), if any. */
export interface StoredFile extends ListedFile {
  readonly checksumSha256?: string;
  readonly checksumType?: "FULL_OBJECT" | "COMPOSITE";
}

export interface ManifestFileEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256?: string;
}

const MANIFEST_NAMES = new Set(["modelship.yaml", "modelship.yml", "modelship.json"]);

/**
 * The manifest's `files` against the store: each is present with the declared size, and its sha256
 * matches where the store reports a full-object SHA-256 (otherwise a warning that it could not be
 * checked). Files present but not declared are a warning. No declared files: nothing to check.
 */
export function checkManifestFiles(
  declared: readonly ManifestFileEntry[],
  stored: ReadonlyMap<string, StoredFile>,
): Finding[] {
  if (declared.length === 0) return [];
  const findings = new CappedFindings();
  const declaredPaths = new Set<string>();
  for (const entry of declared) {
    declaredPaths.add(entry.path);
    const file = stored.get(entry.path);
    if (!file) {
      findings.add({
        severity: "error",
        code: "manifest.file-missing",
        file: entry.path,
        message: "The manifest lists this file, but it is not in the folder.",
        hint: "Upload it before the manifest (the manifest is the commit marker and goes last).",
      });
      continue;
    }
    if (file.size !== entry.size) {
      findings.add({
        severity: "error",
        code: "manifest.file-size",
        file: entry.path,
        message: `The manifest says ${entry.size} bytes, but the stored file is ${file.size} bytes.`,
        hint: "The upload is incomplete or the file changed after the manifest was written: upload it again.",
      });
      continue;
    }
    if (entry.sha256 === undefined) continue;
    const storedHex =
      file.checksumType === "FULL_OBJECT" && file.checksumSha256
        ? base64ToHex(file.checksumSha256)
        : undefined;
    if (storedHex === undefined) {
      findings.add({
        severity: "warning",
        code: "manifest.sha256-unchecked",
        file: entry.path,
        message:
          "The store reports no full-object SHA-256 for this file, so its sha256 could not be checked.",
        hint: "Upload with `--checksum-algorithm SHA256` (modelship push does) to have it checked.",
      });
    } else if (storedHex !== entry.sha256) {
      findings.add({
        severity: "error",
        code: "manifest.sha256-mismatch",
        file: entry.path,
        message: `The manifest says sha256 ${entry.sha256}, but the stored file's is ${storedHex}.`,
        hint: "The file changed after the manifest was written: upload the right file or rewrite the manifest.",
      });
    }
  }
  for (const path of stored.keys()) {
    if (!declaredPaths.has(path) && !MANIFEST_NAMES.has(path)) {
      findings.add({
        severity: "warning",
        code: "manifest.file-undeclared",
        file: path,
        message: "The file is in the folder but not in the manifest's `files`.",
        hint: "Add it to `files` (modelship push does), or remove it.",
      });
    }
  }
  return findings.list();
}

function base64ToHex(base64: string): string | undefined {
  try {
    return [...atob(base64)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  } catch {
    return undefined;
  }
}

/**
 * The serving runtime can load the format, and the context the manifest asks for fits the model's:
 * vLLM refuses a max_model_len above the model's maximum; llama.cpp runs but quality past it is undefined.
 */
export function checkServingFit(
  serving: { readonly runtime: "vllm" | "llama.cpp"; readonly maxModelLen: number },
  format: "safetensors" | "gguf",
  contextLength: number | undefined,
  source: string,
): Finding[] {
  const findings: Finding[] = [];
  if (serving.runtime === "llama.cpp" && format === "safetensors") {
    findings.push({
      severity: "error",
      code: "serving.runtime-format",
      path: "serving.runtime",
      message:
        "The manifest asks for llama.cpp, which serves GGUF files only, but the weights are safetensors.",
      hint: "Set `serving.runtime: vllm`, or convert the model to GGUF.",
    });
  }
  if (contextLength !== undefined && serving.maxModelLen > contextLength) {
    findings.push({
      severity: serving.runtime === "vllm" ? "error" : "warning",
      code: "serving.max-model-len",
      file: source,
      path: "serving.maxModelLen",
      message: `serving.maxModelLen is ${serving.maxModelLen}, but the model was built for at most ${contextLength} tokens.`,
      hint: `Set \`serving.maxModelLen: ${contextLength}\` (or less) in the manifest.`,
    });
  }
  return findings;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
