// Reads the JSON files of a model folder that Validate checks — config.json, model.safetensors.index.json and
// tokenizer_config.json — each within a cap on its size, and keeping only what the checks use. JSON.parse
// turns 16 MB of `[{},{},…]` into 600 MB of objects, so the two files that are legitimately megabytes (an
// index maps every tensor to its shard; a tokenizer_config.json can list thousands of added tokens) are walked
// member by member from their bytes instead; config.json, kilobytes in practice, is parsed whole under a cap
// low enough for that to be cheap. Malformed bytes become one finding naming the file and the byte where it
// breaks, quoting at most a short escaped excerpt.

import type { Finding } from "../findings";
import { isValidUtf8, JsonBytes, JsonSyntaxError } from "../json-bytes";
import type { ShardIndex } from "./model-checks";
import { MAX_SAFETENSORS_TENSORS } from "./safetensors";

/**
 * Bytes read of each file at most. config.json is a few KB (a multimodal one tens of KB); the largest real
 * index (Kimi K2's ~140,000 tensors) is ~13 MB; a tokenizer_config.json with thousands of added tokens ~1 MB.
 */
export const MAX_JSON_FILE_BYTES: Readonly<
  Record<"config.json" | "index" | "tokenizer_config.json", number>
> = {
  "config.json": 1024 * 1024,
  index: 16 * 1024 * 1024,
  "tokenizer_config.json": 16 * 1024 * 1024,
};

export interface JsonFileResult {
  /** What the checks read of the file; a file that is not a JSON object reads as null. */
  readonly value?: unknown;
  readonly findings: Finding[];
}

/** Parses a small JSON file whole (config.json); malformed bytes become one finding naming the file. */
export function parseJsonFile(bytes: Uint8Array, file: string): JsonFileResult {
  const checked = checkJson(bytes, file);
  if (checked) return { findings: [checked] };
  return { value: JSON.parse(new TextDecoder().decode(bytes)), findings: [] };
}

/**
 * The shard index as the checks read it, walked from its bytes: a weight_map that is not an object of strings
 * reads as none (the check refuses it), and a map of more entries than a model may have tensors is a finding
 * and is not read on.
 */
export function readShardIndexFile(
  bytes: Uint8Array,
  file: string,
): { index?: ShardIndex; findings: Finding[] } {
  const invalid = checkJson(bytes, file);
  if (invalid) return { findings: [invalid] };
  const json = new JsonBytes(bytes);
  const root = json.skipWhitespace(0);
  if (json.peek(root) !== 0x7b) return { index: {}, findings: [] };
  let weightMap: Map<string, string> | undefined;
  let totalSize: number | undefined;
  let tooMany = false;
  json.members(root, (key, value) => {
    if (key === "metadata" && json.peek(value.start) === 0x7b) {
      json.members(value.start, (field, span) => {
        if (field !== "total_size") return;
        const size = span.end - span.start <= 32 ? json.value(span) : undefined;
        totalSize = typeof size === "number" && Number.isSafeInteger(size) ? size : undefined;
      });
    } else if (key === "weight_map") {
      weightMap = undefined;
      if (json.peek(value.start) !== 0x7b) return;
      const map = new Map<string, string>();
      weightMap = map;
      json.members(value.start, (tensor, shard) => {
        const name = json.string(shard);
        if (name === undefined) {
          weightMap = undefined;
          return false;
        }
        if (map.size >= MAX_SAFETENSORS_TENSORS && !map.has(tensor)) {
          tooMany = true;
          return false;
        }
        map.set(tensor, name);
        return true;
      });
    }
  });
  if (tooMany) {
    return {
      findings: [
        {
          severity: "error",
          code: "index.too-many-tensors",
          file,
          path: "weight_map",
          message: `weight_map maps more than ${MAX_SAFETENSORS_TENSORS} tensors, more than a model's files may hold; the index was not checked.`,
          hint: "Real checkpoints hold at most ~150,000 tensors: regenerate the index from the shards.",
        },
      ],
    };
  }
  return {
    index: { ...(weightMap && { weightMap }), ...(totalSize !== undefined && { totalSize }) },
    findings: [],
  };
}

/** tokenizer_config.json as the checks read it: only `chat_template` (a string, or a list when non-empty). */
export function readTokenizerConfigFile(bytes: Uint8Array, file: string): JsonFileResult {
  return walkObject(bytes, file, (json, root) => {
    const config: { chat_template?: unknown } = {};
    json.members(root, (key, value) => {
      if (key !== "chat_template") return;
      const text = json.string(value);
      if (text !== undefined) config.chat_template = text;
      else if (json.peek(value.start) !== 0x5b) config.chat_template = null;
      // A list of named templates: the check asks only whether there is one, not what they say.
      else config.chat_template = json.isEmptyArray(value) ? [] : ["(named templates)"];
    });
    return { value: config, findings: [] };
  });
}

/** Validates the whole document, then lets `read` walk the top-level object (a non-object reads as null). */
function walkObject(
  bytes: Uint8Array,
  file: string,
  read: (json: JsonBytes, root: number) => JsonFileResult,
): JsonFileResult {
  const checked = checkJson(bytes, file);
  if (checked) return { findings: [checked] };
  const json = new JsonBytes(bytes);
  const root = json.skipWhitespace(0);
  return json.peek(root) === 0x7b ? read(json, root) : { value: null, findings: [] };
}

/** One finding when the bytes are not UTF-8 JSON; undefined when they are. */
function checkJson(bytes: Uint8Array, file: string): Finding | undefined {
  const invalid = (reason: string): Finding => ({
    severity: "error",
    code: "json.invalid",
    file,
    message: `Not valid UTF-8 JSON (${reason}).`,
    hint: "Fix the file's syntax; `python -m json.tool <file>` shows where it breaks.",
  });
  if (!isValidUtf8(bytes)) return invalid("the bytes are not UTF-8 text");
  try {
    new JsonBytes(bytes).document();
    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntaxError) return invalid(error.message);
    throw error;
  }
}
