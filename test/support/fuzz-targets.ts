// Every parser that reads what a bucket holds, as a fuzz target: random and mutated inputs of bounded size,
// seeded with the hostile cases of issue 10 (made small by test/support/hostile-models.ts), and what must hold
// for every one of them — it answers (findings or a refusal of its own kind, never another exception), keeps
// its findings capped per kind, and gives back no more than a bounded multiple of what it read. The unit
// suite runs each target a few hundred times; bench/fuzz.ts runs the same targets many thousands of times.
// A new parser joins by adding a target here.

import fc from "fast-check";
import { stringify as yamlStringify } from "yaml";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import type { Finding } from "../../lib/core/findings";
import { GGUF_HEADER_CAP_BYTES, MAX_GGUF_TENSORS, parseGguf } from "../../lib/core/weights/gguf";
import { loadManifest } from "../../lib/core/resolution/manifest";
import {
  checkConfig,
  checkShardIndex,
  checkTokenizer,
  type TensorLocation,
} from "../../lib/core/weights/model-checks";
import {
  parseJsonFile,
  readShardIndexFile,
  readTokenizerConfigFile,
} from "../../lib/core/weights/model-json-files";
import { locateSafetensorsHeader, parseSafetensorsHeader } from "../../lib/core/weights/safetensors";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { buildSafetensorsModel, type ModelFiles } from "../../lib/examples/safetensors-model";
import { loadSuite } from "../../lib/pipeline/eval-suites";
import { loadPromptSet } from "../../lib/pipeline/stress-prompts";
import { validateModel } from "../../lib/pipeline/validate";
import {
  ggufOfDuplicateTensors,
  ggufOfMetadata,
  indexOfEntries,
  jsonListOfObjects,
  modelClaimingLayers,
  safetensorsOfTensors,
  yamlFlowList,
} from "./hostile-models";
import { MemoryObjectStore } from "./memory-object-store";

export interface FuzzTarget<T> {
  readonly name: string;
  /** Random and mutated inputs, each bounded in size. */
  readonly inputs: fc.Arbitrary<T>;
  /** Issue 10's hostile cases for this parser, small: run first, every time. */
  readonly corpus: () => readonly T[];
  /** Runs the parser on one input and throws (an assertion) when what must hold does not. */
  readonly check: (input: T) => void | Promise<void>;
}

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Fails unless each code has at most the cap (50) and its summary. */
export function assertCappedPerCode(findings: readonly Finding[], what: string): void {
  const perCode = new Map<string, number>();
  for (const f of findings) perCode.set(f.code, (perCode.get(f.code) ?? 0) + 1);
  for (const [code, count] of perCode) {
    if (count > 51)
      throw new Error(`${what}: ${count} findings of ${code}, more than the cap of 50 and a summary`);
  }
}

/** Fails unless `result`, as JSON, is at most `factor` × the input plus `slack` characters. */
function assertBoundedBy(
  result: unknown,
  inputBytes: number,
  what: string,
  factor = 8,
  slack = 64 * 1024,
): void {
  const size = JSON.stringify(result)?.length ?? 0;
  if (size > factor * inputBytes + slack) {
    throw new Error(`${what}: ${size} characters of result for ${inputBytes} bytes of input`);
  }
}

/** `bytes` changed the ways files break: bytes overwritten, cut short, spliced in, a stretch deleted. */
function mutated(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.constantFrom(
        '"',
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\\",
        "\u0000",
        "-1",
        "1e999",
        "null",
        "\uD800",
        "\u202e",
      ),
    }),
    fc.record({
      kind: fc.constant("delete" as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let out: Uint8Array = bytes.slice();
    for (const e of edits) {
      const at = out.length === 0 ? 0 : e.at % out.length;
      if (e.kind === "set") out[at] = e.value;
      else if (e.kind === "cut") out = out.slice(0, at);
      else if (e.kind === "insert") out = concat(out.subarray(0, at), encode(e.text), out.subarray(at));
      else out = concat(out.subarray(0, at), out.subarray(at + e.length));
    }
    return out;
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** JSON text shaped like `shape`'s keys with any values, any JSON, and mutations of `valid`. */
function jsonBytes(valid: Uint8Array, keys: readonly string[]): fc.Arbitrary<Uint8Array> {
  const likeIt = fc.dictionary(fc.constantFrom(...keys, "extra"), fc.jsonValue({ maxDepth: 3 }), {
    maxKeys: 6,
  });
  return fc.oneof(
    likeIt.map((value) => encode(JSON.stringify(value))),
    fc.jsonValue({ maxDepth: 4 }).map((value) => encode(JSON.stringify(value) ?? "null")),
    mutated(valid),
    fc.uint8Array({ maxLength: 256 }),
  );
}

const tinyFiles = (): ModelFiles => buildSafetensorsModel();
const tinyShardedFiles = (): ModelFiles => buildSafetensorsModel({ shards: 2 });

function headerOf(file: Uint8Array): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return file.subarray(8, 8 + length);
}

function withHeader(text: string | Uint8Array, dataBytes = 64): Uint8Array {
  const header = typeof text === "string" ? encode(text) : text;
  const file = new Uint8Array(8 + header.length + dataBytes);
  new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
  file.set(header, 8);
  return file;
}

const safetensorsHeader: FuzzTarget<Uint8Array> = {
  name: "safetensors header",
  inputs: fc.oneof(
    mutated(
      tinyFiles()
        .get("model.safetensors")!
        .slice(0, 8 + headerOf(tinyFiles().get("model.safetensors")!).length + 256),
    ),
    mutated(safetensorsOfTensors(40)),
    fc
      .dictionary(
        fc.string({ maxLength: 8 }),
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({
            dtype: fc.constantFrom("F32", "BF16", "F4", "x"),
            shape: fc.array(fc.integer({ min: -1, max: 64 }), { maxLength: 3 }),
            data_offsets: fc.tuple(fc.nat(256), fc.nat(256)),
          }),
        ),
        { maxKeys: 8 },
      )
      .map((header) => withHeader(JSON.stringify(header))),
    fc.uint8Array({ maxLength: 512 }),
  ),
  corpus: () => [
    safetensorsOfTensors(3000),
    safetensorsOfTensors(200, { nameLength: 600 }),
    safetensorsOfTensors(1, { metadataBytes: 200_000 }),
    withHeader(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      4,
    ),
    withHeader(`{"a":{"dtype":"F32","shape":[${"1,".repeat(40_000)}1],"data_offsets":[0,4]}}`, 4),
    withHeader(`{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    withHeader('{"__metadata__":{"format":"pt","step":1000,"format":"x"}}'),
    withHeader("root:x:0:0:root:/root:/bin/bash\n"),
    withHeader(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
    encode("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n"),
  ],
  check: (file) => {
    const budget = { tensors: 1000, nameChars: 100_000 };
    const location = locateSafetensorsHeader(file.subarray(0, 8), file.length, "model.safetensors");
    if (!location.ok) {
      assertCappedPerCode(location.findings, "locate");
      return;
    }
    const result = parseSafetensorsHeader(
      file.subarray(8, location.headerEnd),
      file.length,
      "model.safetensors",
      budget,
    );
    assertCappedPerCode(result.findings, "safetensors");
    if ((result.header?.tensors.length ?? 0) > 1000) throw new Error("kept more tensors than the budget");
    assertBoundedBy(result, file.length, "safetensors");
  },
};

const tinyGguf = buildTinyLlamaGguf();

const gguf: FuzzTarget<Uint8Array> = {
  name: "GGUF header",
  inputs: fc.oneof(
    mutated(tinyGguf.slice(0, 16 * 1024)),
    mutated(ggufOfMetadata(20, 30, 50)),
    fc.uint8Array({ maxLength: 600 }),
  ),
  corpus: () => [
    ggufOfDuplicateTensors(MAX_GGUF_TENSORS + 1),
    ggufOfDuplicateTensors(3000),
    ggufOfMetadata(3000, 10, 10),
    ggufOfMetadata(20, 70_000, 10),
    ggufOfMetadata(1, 1, 200_000),
  ],
  check: (bytes) => {
    // As Validate reads it: a first read, then as far as the parser asks.
    let have = Math.min(bytes.length, 4096);
    for (let round = 0; round < 64; round++) {
      const result = parseGguf(bytes.subarray(0, have), bytes.length, "model.gguf");
      if (result.kind === "parsed") {
        assertCappedPerCode(result.findings, "gguf");
        if (result.findings.some((f) => f.code === "gguf.unreadable"))
          throw new Error(JSON.stringify(result.findings));
        if (result.info.tensors.length > MAX_GGUF_TENSORS)
          throw new Error("kept more tensor infos than the cap");
        assertBoundedBy(result, Math.min(have, GGUF_HEADER_CAP_BYTES), "gguf", 16);
        return;
      }
      if (result.bytes <= have || result.bytes > bytes.length)
        throw new Error(`asked for ${result.bytes} with ${have}`);
      have = result.bytes;
    }
    throw new Error("the parser kept asking for more");
  },
};

/** The tiny model's tensors, as config.json is checked against them. */
function tinyTensors(): Map<string, TensorLocation> {
  const file = tinyFiles().get("model.safetensors")!;
  const { header } = parseSafetensorsHeader(headerOf(file), file.length, "model.safetensors");
  return new Map(header!.tensors.map((t) => [t.name, { file: "model.safetensors", shape: t.shape }]));
}

const CONFIG_KEYS = [
  "architectures",
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "num_key_value_heads",
  "head_dim",
  "max_position_embeddings",
  "text_config",
];

const configJson: FuzzTarget<Uint8Array> = {
  name: "config.json",
  inputs: fc.oneof(
    jsonBytes(tinyFiles().get("config.json")!, CONFIG_KEYS),
    fc
      .record({
        key: fc.constantFrom(...CONFIG_KEYS),
        value: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e12, 2 ** 53, 1e300, -1, 0)),
      })
      .map(({ key, value }) => modelClaimingLayersWith(key, value)),
  ),
  corpus: () => [
    modelClaimingLayers(1e12).get("config.json")!,
    modelClaimingLayers(2 ** 53 - 1).get("config.json")!,
    jsonListOfObjects(200_000),
    encode(`{"text_config":${'{"text_config":'.repeat(10_000)}1${"}".repeat(10_001)}`),
    encode("root:x:0:0:root:/root:/bin/bash\n"),
  ],
  check: (bytes) => {
    const parsed = parseJsonFile(bytes, "config.json");
    if (parsed.value === undefined) return;
    const { findings } = checkConfig(parsed.value, tinyTensors());
    assertCappedPerCode(findings, "config");
    for (const f of findings)
      if (f.message.length > 2000) throw new Error(`a ${f.message.length}-character message`);
  },
};

function modelClaimingLayersWith(key: string, value: number): Uint8Array {
  const config = JSON.parse(new TextDecoder().decode(tinyFiles().get("config.json"))) as Record<
    string,
    unknown
  >;
  config[key] = value;
  return encode(JSON.stringify(config));
}

const shardIndex: FuzzTarget<Uint8Array> = {
  name: "model.safetensors.index.json",
  inputs: jsonBytes(tinyShardedFiles().get("model.safetensors.index.json")!, ["metadata", "weight_map"]),
  corpus: () => [
    indexOfEntries(5000),
    jsonListOfObjects(100_000),
    encode('{"weight_map":{"a":1}}'),
    encode('{"weight_map":[],"metadata":{"total_size":1e400}}'),
  ],
  check: (bytes) => {
    const read = readShardIndexFile(bytes, "model.safetensors.index.json");
    assertCappedPerCode(read.findings, "index");
    if (!read.index) return;
    const tensorsByFile = new Map([
      ["model-00001-of-00002.safetensors", ["a", "b"]],
      ["model-00002-of-00002.safetensors", ["c"]],
    ]);
    const findings = checkShardIndex(
      read.index,
      "model.safetensors.index.json",
      tensorsByFile,
      [...tensorsByFile.keys()],
      new Map(),
    );
    assertCappedPerCode(findings, "index check");
  },
};

const tokenizerConfig: FuzzTarget<Uint8Array> = {
  name: "tokenizer_config.json",
  inputs: jsonBytes(tinyFiles().get("tokenizer_config.json")!, [
    "chat_template",
    "added_tokens_decoder",
    "bos_token",
  ]),
  corpus: () => [
    jsonListOfObjects(100_000),
    encode(`{"chat_template":[${"{},".repeat(10_000)}{}]}`),
    encode('{"chat_template":"\\ud800"}'),
  ],
  check: (bytes) => {
    const read = readTokenizerConfigFile(bytes, "tokenizer_config.json");
    assertCappedPerCode(read.findings, "tokenizer_config");
    assertCappedPerCode(
      checkTokenizer(new Set(["tokenizer.json", "tokenizer_config.json"]), read.value),
      "tokenizer",
    );
  },
};

const MANIFEST_TAGS = [
  "!!binary aGVsbG8=",
  "!!set {a, b}",
  "!!omap [a: 1]",
  "!!timestamp 2001-12-14",
  "!python/object:os.system x",
  "!!str x",
  "!!int 3",
  "&a [1]",
  "*a",
];

/** Whether `value` is plain data: what JSON can say, nothing else (no bytes, Set, Map, Date). */
function isPlainData(value: unknown): boolean {
  const pending: unknown[] = [value];
  for (let next = pending.pop(); pending.length > 0 || next !== undefined; next = pending.pop()) {
    if (next === null || ["string", "number", "boolean", "undefined"].includes(typeof next)) continue;
    if (Array.isArray(next)) pending.push(...next);
    else if (Object.getPrototypeOf(next) === Object.prototype) pending.push(...Object.values(next as object));
    else return false;
  }
  return true;
}

const manifest: FuzzTarget<{ text: string; fileName: string }> = {
  name: "manifest (modelship.yaml / .json)",
  inputs: fc.oneof(
    fc
      .tuple(
        fc.jsonValue({ maxDepth: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...MANIFEST_TAGS)), { maxLength: 3 }),
      )
      .map(([value, tags]) => {
        let text = yamlStringify({ serving: value, rollout: { steps: [5, 50] } });
        for (const [at, tag] of tags) {
          const i = at % (text.length + 1);
          text = `${text.slice(0, i)} ${tag} ${text.slice(i)}`;
        }
        return { text, fileName: "modelship.yaml" };
      }),
    fc
      .jsonValue({ maxDepth: 4 })
      .map((value) => ({ text: JSON.stringify(value) ?? "", fileName: "modelship.json" })),
    fc.string({ maxLength: 200 }).map((text) => ({ text, fileName: "modelship.yaml" })),
  ),
  corpus: () =>
    [
      "serving: !!binary aGVsbG8=\n",
      "gates: !!set {smoke, stress}\n",
      "%YAML 1.1\n---\nversion: 2001-12-14\n",
      [
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        ...["b", "c", "d", "e", "f"].map(
          (n, i) => `${n}: &${n} [${Array(10).fill(`*${"abcdef"[i]}`).join(", ")}]`,
        ),
      ].join("\n"),
      yamlFlowList(16 * 1024),
      `a: ${"[".repeat(5000)}${"]".repeat(5000)}\n`,
      Array.from({ length: 3000 }, (_, i) => `key${i}: 1`).join("\n"),
      "name: x\nname: y\n",
    ].map((text) => ({ text, fileName: "modelship.yaml" })),
  check: ({ text, fileName }) => {
    const { manifest: resolved, findings } = loadManifest(
      text,
      { name: "tiny", version: "v1", fileName },
      DEFAULT_STACK_CONFIG,
    );
    assertCappedPerCode(findings, "manifest");
    if (resolved && !isPlainData(resolved))
      throw new Error(`a manifest that is not plain data: ${text.slice(0, 200)}`);
  },
};

/** Lines of JSONL: good, broken, huge, not UTF-8. */
const jsonlBytes: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      fc.constant('{"messages":[{"role":"user","content":"hi"}]}'),
      fc.constant('{"id":"q1","prompt":"2+2?","answer":"4","scorer":"exact"}'),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ""),
      fc.string({ maxLength: 40 }),
    ),
    { maxLength: 20 },
  )
  .chain((lines) => mutated(encode(lines.join("\n"))));

const JSONL_CORPUS = (): Uint8Array[] => [
  encode(Array.from({ length: 5000 }, (_, i) => `{broken ${i}`).join("\n")),
  encode(`{"prompt":"${"x".repeat(1_100_000)}"}`),
  new Uint8Array([0xff, 0xfe, 0x0a, 0x7b, 0x7d]),
  encode("\n\n\n"),
];

const promptSet: FuzzTarget<Uint8Array> = {
  name: "stress prompt set (prompts/*.jsonl)",
  inputs: jsonlBytes,
  corpus: JSONL_CORPUS,
  check: async (bytes) => {
    const objects = new MemoryObjectStore().addFiles("prompts/", new Map([["set.jsonl", bytes]]));
    const loaded = await loadPromptSet(objects, "set");
    assertCappedPerCode(loaded.findings, "prompt set");
  },
};

const evalSuite: FuzzTarget<Uint8Array> = {
  name: "eval suite (evals/*.jsonl)",
  inputs: jsonlBytes,
  corpus: JSONL_CORPUS,
  check: async (bytes) => {
    const objects = new MemoryObjectStore().addFiles("evals/", new Map([["suite.jsonl", bytes]]));
    const loaded = await loadSuite(objects, "suite");
    if (loaded.findings.length > 101) throw new Error(`${loaded.findings.length} findings`);
  },
};

const MODEL_FILES = ["model.safetensors", "config.json", "tokenizer_config.json", "tokenizer.json"] as const;

/** The tiny model with one file replaced by a mutation of itself or by a hostile one. */
const modelFolder: FuzzTarget<{ file: string; bytes: Uint8Array }> = {
  name: "a whole model folder (Validate)",
  inputs: fc
    .constantFrom(...MODEL_FILES)
    .chain((file) => mutated(tinyFiles().get(file)!).map((bytes) => ({ file, bytes }))),
  corpus: () => [
    { file: "model.safetensors", bytes: safetensorsOfTensors(3000) },
    { file: "config.json", bytes: modelClaimingLayers(1e12).get("config.json")! },
    { file: "config.json", bytes: jsonListOfObjects(100_000) },
    { file: "model.safetensors.index.json", bytes: indexOfEntries(3000) },
    { file: "tokenizer_config.json", bytes: jsonListOfObjects(100_000) },
  ],
  check: async ({ file, bytes }) => {
    const files = tinyFiles();
    files.set(file, bytes);
    const store = new MemoryObjectStore().addFiles("m/", files);
    const report = await validateModel(store, "m/", { config: DEFAULT_STACK_CONFIG });
    assertCappedPerCode(report.findings, "validate");
    if (report.bytesRead > report.totalBytes)
      throw new Error(`read ${report.bytesRead} of ${report.totalBytes} bytes`);
  },
};

/** A target, ready to run: its corpus first, then `runs` generated inputs (from `seed`, to replay a failure). */
export interface RunnableTarget {
  readonly name: string;
  run(runs: number, seed?: number): Promise<void>;
}

function runnable<T>(target: FuzzTarget<T>): RunnableTarget {
  return {
    name: target.name,
    run: async (runs, seed) => {
      await fc.assert(
        fc.asyncProperty(target.inputs, async (input) => {
          await target.check(input);
        }),
        {
          numRuns: runs,
          examples: target.corpus().map((input) => [input] as [T]),
          ...(seed !== undefined && { seed }),
        },
      );
    },
  };
}

export const FUZZ_TARGETS: readonly RunnableTarget[] = [
  runnable(safetensorsHeader),
  runnable(gguf),
  runnable(configJson),
  runnable(shardIndex),
  runnable(tokenizerConfig),
  runnable(manifest),
  runnable(promptSet),
  runnable(evalSuite),
  runnable(modelFolder),
];
