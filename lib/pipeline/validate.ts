// The Validate stage: proves a model folder is servable before a GPU is spent on it. It lists the prefix,
// reads only the headers of the weight files (ranged reads: one per file when the header fits in the first
// read, a second for exactly the rest otherwise) and the small JSON files, checks everything lib/core knows
// how to check, sizes the GPUs, and reports every finding at once. Malformed input never throws here; only
// the stage throws ModelInvalid at the end, after writing the full report.
//
// Memory is bounded by design, whatever the files claim: a header longer than the first read is read (and
// parsed) one file at a time, and what is kept of a file once it is checked is its tensors' names and
// shapes, not its header; the model's files share one budget of tensors kept (core/weights/safetensors); the JSON files
// are read under a cap each, the two big ones member by member; findings are capped per kind. Worst cases,
// measured by bench/hostile through `modelship validate`: README, "How a model folder is read".

import { CappedFindings } from "../core/capped-findings";
import { type Finding, sortFindings } from "../core/findings";
import type { StackConfig } from "../core/config/config";
import { ModelInvalid } from "../core/errors";
import { parseGguf, type GgufInfo } from "../core/weights/gguf";
import { planGpus, type GpuPlan } from "../core/weights/gpu-plan";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import {
  checkConfig,
  checkDuplicateTensors,
  checkManifestFiles,
  checkServingFit,
  checkShardIndex,
  checkTokenizer,
  type ModelShape,
  type StoredFile,
  type TensorLocation,
} from "../core/weights/model-checks";
import { type ModelFormat, planModelFolder, SHARD_INDEX_FILE } from "../core/weights/model-files";
import {
  MAX_JSON_FILE_BYTES,
  parseJsonFile,
  readShardIndexFile,
  readTokenizerConfigFile,
} from "../core/weights/model-json-files";
import type { ExecutionState, ValidationSummary } from "../core/rollout/rollout";
import {
  locateSafetensorsHeader,
  modelTensorBudget,
  parseSafetensorsHeader,
  SAFETENSORS_PREFIX_BYTES,
  tensorBudgetSpent,
} from "../core/weights/safetensors";
import { type ChosenServing, chooseServing, type ServingChoiceInput } from "../core/weights/serving-choice";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import type { ObjectInfo, ObjectVersion } from "../ports";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import type { StageDeps } from "./deps";

/**
 * The first ranged read of every weight file. A safetensors header costs ~100 bytes per tensor: a
 * Llama-3-8B shard's is under 10 KB, a large MoE shard's (1,000–2,000 tensors) 100–250 KB. 256 KiB makes
 * "one read per file" true for all of them, and is 0.005% of a 5 GB shard. A longer header is read whole in a
 * second request (re-reading these first bytes): one buffer the size of the header, never a copy of it.
 */
export const FIRST_READ_BYTES = 256 * 1024;
/** Files read at the same time: enough to hide S3's first-byte latency, few enough to stay polite. */
const READ_CONCURRENCY = 4;
/** A GGUF header is read in a few growing steps (the parser says how far); this bounds the loop. */
const MAX_GGUF_READS = 16;
/** The state carries this many findings; the report has all of them. */
const SUMMARY_FINDINGS = 20;

export interface ValidateOptions {
  readonly manifest?: ResolvedManifest;
  readonly config: StackConfig;
  /** The model's name, for the report. */
  readonly modelName?: string;
}

/** What was learned about one file. Weight files carry their header's details and the reads they cost. */
export interface FileReport {
  readonly path: string;
  readonly size: number;
  readonly format?: ModelFormat;
  readonly headerBytes?: number;
  readonly tensors?: number;
  readonly parameters?: number;
  readonly dtypes?: Readonly<Record<string, number>>;
  readonly requests?: number;
  readonly bytesRead?: number;
}

/** The full report: what the report file holds and the CLI prints. */
export interface ValidationReport {
  readonly valid: boolean;
  /** Where the model is: `s3://bucket/models/m/v1/` or a folder. */
  readonly location: string;
  readonly model?: string;
  readonly format?: ModelFormat;
  readonly architecture?: string;
  readonly parameters: number;
  readonly dtypes: Readonly<Record<string, number>>;
  /** Bytes of the weight files. */
  readonly weightBytes: number;
  /** Bytes of every file under the prefix. */
  readonly totalBytes: number;
  readonly files: readonly FileReport[];
  /** Requests made to the store (list, head, ranged and whole reads). */
  readonly requests: number;
  readonly bytesRead: number;
  readonly gpu: GpuPlan;
  /** What the candidate is served with: the manifest's settings, and the weights' where it sets none. */
  readonly serving: ChosenServing;
  readonly errors: number;
  readonly warnings: number;
  /** Every finding, errors first. */
  readonly findings: readonly Finding[];
}

/** Validating a model reads under `models/` only: the listing, heads, header ranges and small files. */
const MODEL_READS = portUse({
  objects: { list: ["models"], head: ["models"], getRange: ["models"], get: ["models"], location: [] },
});
type ModelReads = DepsUsing<typeof MODEL_READS>["objects"];

/** Validate's use: reading the model, writing its report under `reports/`. */
export const VALIDATE_USES = combinedUse(
  MODEL_READS,
  portUse({ objects: { put: ["reports"] }, clock: ["now"] }),
);

/** Validates the model under `prefix`. Throws only when the store itself fails. */
export async function validateModel(
  objects: ModelReads,
  prefix: string,
  options: ValidateOptions,
): Promise<ValidationReport> {
  const store = new CountingObjectStore(objects);
  const root = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  const location = `${objects.location}/${root}`;
  const listing = await store.list(root);
  const stored = new Map<string, StoredFile>();
  const unreadable = new Set<string>();
  const findings = new CappedFindings();
  for (const info of listing) {
    const path = info.key.slice(root.length);
    if (path === "" || path.endsWith("/")) continue;
    // A link out of the folder, a FIFO …: named as an error and never read, by this stage or any other.
    if (info.unreadable) {
      unreadable.add(path);
      findings.add(unreadableEntryFinding(path, info.unreadable, objects.location));
    } else stored.set(path, toStoredFile(path, info));
  }
  const files = [...stored.values()];
  // Without a manifest nothing is decided: the weights and the stack choose, as for an unset field.
  const manifestServing: ServingChoiceInput = options.manifest?.serving ?? {
    gpus: options.config.defaults.serving.gpus,
    extraArgs: options.config.defaults.serving.extraArgs,
    trustRemoteCode: options.config.defaults.serving.trustRemoteCode,
  };

  if (listing.length === 0) {
    findings.add({
      severity: "error",
      code: "model.empty",
      message: `Nothing is stored under ${location}.`,
      hint: "Upload the model's files (weights, config.json, tokenizer) under this prefix.",
    });
  }
  const folder = planModelFolder(files, options.manifest?.format);
  if (files.length > 0) findings.addAll(folder.findings);
  const weightPaths = new Set(folder.weights.map((f) => f.path));
  const key = (path: string): string => `${root}${path}`;

  const reading = new HeaderReading(store, folder.weights.length);
  const weights = await mapWithConcurrency(folder.weights, READ_CONCURRENCY, (file, index) =>
    folder.format === "gguf"
      ? readGgufFile(store, key(file.path), file.path, file.size)
      : readSafetensorsFile(reading, index, key(file.path), file.path, file.size),
  );
  for (const w of weights) findings.addAll(w.findings);

  /** A JSON file read under its cap, one at a time, as `read` makes of it (undefined when absent). */
  const readJson = async <T extends { readonly findings: Finding[] }>(
    path: string,
    cap: number,
    read: (bytes: Uint8Array, file: string) => T,
  ): Promise<T | undefined> => {
    const file = stored.get(path);
    if (!file) return undefined;
    if (file.size > cap) {
      findings.add({
        severity: "error",
        code: "json.too-large",
        file: path,
        message: `The file is ${file.size} bytes; a ${path} is at most ${cap} bytes, so it was not read.`,
        hint: "Upload the file that came with the model.",
      });
      return undefined;
    }
    const bytes = await store.get(key(path));
    if (!bytes) return undefined;
    const parsed = read(bytes, path);
    findings.addAll(parsed.findings);
    return parsed;
  };

  let shape: ModelShape = {};
  let contextSource = "config.json";
  if (folder.format === "safetensors") {
    const safetensors = weights.filter((w) => w.safetensors !== undefined);
    const tensorsByFile = new Map(safetensors.map((w) => [w.path, w.safetensors!.names]));
    const tensors = new Map<string, TensorLocation>();
    for (const w of safetensors) {
      const { names, shapes } = w.safetensors!;
      names.forEach((name, i) => tensors.set(name, { file: w.path, shape: shapes[i]! }));
    }
    findings.addAll(checkDuplicateTensors(tensorsByFile));

    // One after another: at most one file's bytes and what is made of them are held at a time.
    const index = (await readJson(SHARD_INDEX_FILE, MAX_JSON_FILE_BYTES.index, readShardIndexFile))?.index;
    if (stored.has(SHARD_INDEX_FILE)) {
      if (index !== undefined) {
        const dataBytes = new Map(safetensors.map((w) => [w.path, w.safetensors!.dataBytes]));
        findings.addAll(checkShardIndex(index, SHARD_INDEX_FILE, tensorsByFile, [...weightPaths], dataBytes));
      }
    } else if (folder.weights.length > 1) {
      findings.add({
        severity: "warning",
        code: "index.missing",
        file: SHARD_INDEX_FILE,
        message: `The model is split into ${folder.weights.length} safetensors files without ${SHARD_INDEX_FILE}; transformers cannot load it.`,
        hint: "Upload the index that came with the shards (save_pretrained writes it).",
      });
    }
    const config = (await readJson("config.json", MAX_JSON_FILE_BYTES["config.json"], parseJsonFile))?.value;
    // A config.json that is an unreadable link is named as such above, not as missing.
    if (!stored.has("config.json") && !unreadable.has("config.json")) {
      findings.add({
        severity: "error",
        code: "config.missing",
        file: "config.json",
        message: "The folder has no config.json; serving needs it to build the model.",
        hint: "Upload the config.json that came with the weights.",
      });
    } else if (config !== undefined) {
      const checked = checkConfig(config, tensors);
      shape = checked.shape;
      findings.addAll(checked.findings);
    }
    const tokenizerConfig = (
      await readJson(
        "tokenizer_config.json",
        MAX_JSON_FILE_BYTES["tokenizer_config.json"],
        readTokenizerConfigFile,
      )
    )?.value;
    const topLevel = new Set(files.map((f) => f.path).filter((p) => !p.includes("/")));
    findings.addAll(checkTokenizer(topLevel, tokenizerConfig));
  } else if (folder.format === "gguf") {
    const first = weights.find((w) => w.gguf !== undefined);
    if (first?.gguf) {
      shape = shapeFromGguf(first.gguf);
      contextSource = first.path;
    }
  }

  const serving = chooseServing(manifestServing, folder.format, shape.contextLength, options.config);
  if (serving.image === "") {
    findings.add({
      severity: "error",
      code: "serving.image-none",
      path: "serving.image",
      message: `The weights are served by ${serving.runtime}, and the stack allows no image for it.`,
      hint: `Ask the platform team to add a ${serving.runtime} image to the stack's allowedImages.`,
    });
  }
  if (folder.format) {
    const fit = checkServingFit(serving, folder.format, shape.contextLength, contextSource);
    // A manifest that names its format had runtime and format checked together when it was resolved.
    const declared = options.manifest?.format !== undefined;
    findings.addAll(fit.filter((f) => !(declared && f.code === "serving.runtime-format")));
  }

  if (options.manifest) {
    await addChecksums(store, stored, options.manifest.files, key);
    findings.addAll(checkManifestFiles(options.manifest.files, stored));
  }

  let parameters = 0;
  let tensorDataBytes = 0;
  const dtypes: Record<string, number> = {};
  for (const w of weights) {
    parameters += w.parameters;
    tensorDataBytes += w.tensorDataBytes;
    for (const [dtype, count] of Object.entries(w.dtypes)) dtypes[dtype] = (dtypes[dtype] ?? 0) + count;
  }
  const gpu = planGpus({ weightBytes: tensorDataBytes, shape, serving, gpu: options.config.gpu });
  if (folder.format && parameters > 0) findings.addAll(gpu.findings);

  const byPath = new Map(weights.map((w) => [w.path, w]));
  const sorted = sortFindings(findings.list());
  const errors = sorted.filter((f) => f.severity === "error").length;
  return {
    valid: errors === 0,
    location,
    ...(options.modelName !== undefined && { model: options.modelName }),
    ...(folder.format !== undefined && { format: folder.format }),
    ...(shape.architecture !== undefined && { architecture: shape.architecture }),
    parameters,
    dtypes,
    weightBytes: folder.weights.reduce((sum, f) => sum + f.size, 0),
    totalBytes: files.reduce((sum, f) => sum + f.size, 0),
    files: files.map((f) => fileReport(f, byPath.get(f.path), folder.format)),
    requests: store.requests,
    bytesRead: store.bytesRead,
    gpu: gpu.plan,
    serving,
    errors,
    warnings: sorted.filter((f) => f.severity === "warning").length,
    findings: sorted,
  };
}

/**
 * The state machine's Validate task: validates `state.rollout.source.prefix` against `state.manifest`,
 * writes the full report to `reports/<model>/<version>/<rolloutId>/validation.json`, then either returns
 * the summary the state carries or throws ModelInvalid with every error finding.
 */
export async function validate(
  state: ExecutionState,
  deps: DepsUsing<typeof VALIDATE_USES> & Pick<StageDeps, "config">,
): Promise<ValidationSummary> {
  const { rollout, manifest } = state;
  const report = await validateModel(deps.objects, rollout.source.prefix, {
    ...(manifest !== undefined && { manifest }),
    config: deps.config,
    modelName: rollout.model,
  });
  const reportKey = `reports/${rollout.model}/${rollout.version}/${rollout.id}/validation.json`;
  const stored = {
    ...report,
    rolloutId: rollout.id,
    version: rollout.version,
    at: deps.clock.now().toISOString(),
  };
  await deps.objects.put(reportKey, `${JSON.stringify(stored, null, 2)}\n`, {
    contentType: "application/json",
  });
  if (!report.valid) {
    throw new ModelInvalid(
      `${rollout.model} ${rollout.version} is not a servable model: ${report.errors} error(s) in ${report.location}.`,
      {
        findings: report.findings.filter((f) => f.severity === "error"),
        hint: `Fix every error and upload again (\`modelship validate <folder>\` checks before uploading); the full report is ${deps.objects.location}/${reportKey}.`,
      },
    );
  }
  return {
    valid: true,
    format: report.format ?? "safetensors",
    parameters: report.parameters,
    dtypes: report.dtypes,
    weightBytes: report.weightBytes,
    totalBytes: report.totalBytes,
    files: report.files.length,
    bytesRead: report.bytesRead,
    requests: report.requests,
    gpu: report.gpu,
    serving: report.serving,
    errors: report.errors,
    warnings: report.warnings,
    findings: report.findings.slice(0, SUMMARY_FINDINGS),
    reportKey,
  };
}

interface WeightFileResult {
  readonly path: string;
  readonly findings: Finding[];
  /** What the folder's checks need of a safetensors header: its tensors' names and shapes, in order. */
  readonly safetensors?: SafetensorsTensors;
  readonly gguf?: GgufInfo;
  readonly parameters: number;
  readonly dtypes: Readonly<Record<string, number>>;
  readonly tensorDataBytes: number;
  readonly headerBytes?: number;
  readonly tensors?: number;
  readonly requests: number;
  readonly bytesRead: number;
}

interface SafetensorsTensors {
  readonly names: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly dataBytes: number;
}

/**
 * What reading a model's safetensors headers shares: the budget of tensors its files may still keep, spent in
 * the listing's order (so the same folder gets the same findings however fast each read returns), and the
 * turn that has each file checked only after the one before it — first reads run ahead, concurrently, but at
 * most one header bigger than the first read, and its parse, is in memory at a time.
 */
class HeaderReading {
  readonly budget = modelTensorBudget();
  private readonly checked: Promise<void>[];
  private readonly markChecked: (() => void)[] = [];

  constructor(
    readonly store: ModelReads,
    files: number,
  ) {
    this.checked = Array.from(
      { length: files },
      (_, i) => new Promise((resolve) => (this.markChecked[i] = resolve)),
    );
  }

  /** Runs `check` for the file at `index` once the file before it is checked. */
  async inTurn<T>(index: number, check: () => Promise<T>): Promise<T> {
    if (index > 0) await this.checked[index - 1];
    try {
      return await check();
    } finally {
      this.markChecked[index]!();
    }
  }
}

/** Reads a safetensors header: the first read, then — in turn — the whole header if it is longer. */
async function readSafetensorsFile(
  reading: HeaderReading,
  index: number,
  key: string,
  path: string,
  size: number,
): Promise<WeightFileResult> {
  const reads = new ReadTally(reading.store, key);
  const empty = { path, parameters: 0, dtypes: {}, tensorDataBytes: 0 };
  const firstRead =
    size >= SAFETENSORS_PREFIX_BYTES ? reads.range(0, Math.min(size, FIRST_READ_BYTES)) : undefined;
  // Awaited in turn below; until then a failed read must not count as unhandled.
  firstRead?.catch(() => undefined);
  const check = (headerBytes: Uint8Array): WeightFileResult => {
    const parsed = parseSafetensorsHeader(headerBytes, size, path, reading.budget);
    const header = parsed.header;
    // The header and its tensors' records go; their names and shapes are all the folder's checks read.
    const tensors = header && {
      names: header.tensors.map((t) => t.name),
      shapes: header.tensors.map((t) => t.shape),
      dataBytes: header.dataBytes,
    };
    return {
      path,
      findings: parsed.findings,
      ...(header &&
        tensors && { safetensors: tensors, headerBytes: header.headerLength, tensors: tensors.names.length }),
      parameters: header?.parameters ?? 0,
      dtypes: header?.dtypes ?? {},
      tensorDataBytes: header?.dataBytes ?? 0,
      ...reads.counts(),
    };
  };
  return reading.inTurn(index, async () => {
    const first = (await firstRead) ?? new Uint8Array(0);
    const location = locateSafetensorsHeader(first, size, path);
    if (!location.ok) return { ...empty, findings: location.findings, ...reads.counts() };
    if (reading.budget.tensors < 1)
      return { ...empty, findings: [tensorBudgetSpent(path)], ...reads.counts() };
    if (location.headerEnd <= first.byteLength) {
      return check(first.subarray(SAFETENSORS_PREFIX_BYTES, location.headerEnd));
    }
    const header = await reads.range(SAFETENSORS_PREFIX_BYTES, location.headerLength);
    if (header.byteLength < location.headerLength) {
      return { ...empty, findings: [shortReadFinding(path, size)], ...reads.counts() };
    }
    return check(header);
  });
}

/** Reads a GGUF header, growing the read as far as the parser asks (it bounds the total). */
async function readGgufFile(
  store: ModelReads,
  key: string,
  path: string,
  size: number,
): Promise<WeightFileResult> {
  const reads = new ReadTally(store, key);
  let have = size > 0 ? await reads.range(0, Math.min(size, FIRST_READ_BYTES)) : new Uint8Array(0);
  for (let round = 0; round < MAX_GGUF_READS; round++) {
    const result = parseGguf(have, size, path);
    if (result.kind === "parsed") {
      const { info } = result;
      return {
        path,
        findings: result.findings,
        gguf: info,
        parameters: info.parameters,
        dtypes: info.dtypes,
        tensorDataBytes: info.tensorDataBytes,
        headerBytes: info.dataOffset,
        tensors: info.tensors.length,
        ...reads.counts(),
      };
    }
    if (result.bytes <= have.byteLength || result.bytes > size) break;
    const more = await reads.range(have.byteLength, result.bytes - have.byteLength);
    if (more.byteLength === 0) break;
    have = concat(have, more);
  }
  return {
    path,
    findings: [shortReadFinding(path, size)],
    parameters: 0,
    dtypes: {},
    tensorDataBytes: 0,
    ...reads.counts(),
  };
}

function shortReadFinding(path: string, size: number): Finding {
  return {
    severity: "error",
    code: "model.file.short-read",
    file: path,
    message: `The store listed ${size} bytes but returned fewer while reading the header; the file changed or is incomplete.`,
    hint: "Upload the file again and re-run validation.",
  };
}

function shapeFromGguf(info: GgufInfo): ModelShape {
  const hp = info.hyperparameters;
  const keyLength = info.architecture
    ? info.metadata[`${info.architecture}.attention.key_length`]
    : undefined;
  const headDim =
    typeof keyLength === "number" && keyLength > 0
      ? keyLength
      : hp.embedding && hp.headCount && hp.embedding % hp.headCount === 0
        ? hp.embedding / hp.headCount
        : undefined;
  return {
    ...(info.architecture !== undefined && { architecture: info.architecture }),
    ...(hp.layers !== undefined && { layers: hp.layers }),
    ...(hp.embedding !== undefined && { hidden: hp.embedding }),
    ...(hp.headCount !== undefined && { heads: hp.headCount }),
    ...((hp.headCountKv ?? hp.headCount) !== undefined && { kvHeads: hp.headCountKv ?? hp.headCount }),
    ...(headDim !== undefined && { headDim }),
    ...(hp.vocabSize !== undefined && { vocabSize: hp.vocabSize }),
    ...(info.contextLength !== undefined && { contextLength: info.contextLength }),
  };
}

/** The listing has no checksums (ListObjectsV2 does not return them): head the files the manifest hashes. */
async function addChecksums(
  store: ModelReads,
  stored: Map<string, StoredFile>,
  declared: ResolvedManifest["files"],
  key: (path: string) => string,
): Promise<void> {
  const wanted = declared.filter((d) => {
    const file = stored.get(d.path);
    return d.sha256 !== undefined && file !== undefined && file.size === d.size && !file.checksumSha256;
  });
  await mapWithConcurrency(wanted, READ_CONCURRENCY, async (d) => {
    const info = await store.head(key(d.path));
    if (info) stored.set(d.path, toStoredFile(d.path, info));
  });
}

function toStoredFile(path: string, info: ObjectInfo): StoredFile {
  return {
    path,
    size: info.size,
    ...(info.checksumSha256 !== undefined && { checksumSha256: info.checksumSha256 }),
    ...(info.checksumType !== undefined && { checksumType: info.checksumType }),
  };
}

function fileReport(
  file: StoredFile,
  weights: WeightFileResult | undefined,
  format: ModelFormat | undefined,
): FileReport {
  if (!weights) return { path: file.path, size: file.size };
  return {
    path: file.path,
    size: file.size,
    ...(format !== undefined && { format }),
    ...(weights.headerBytes !== undefined && { headerBytes: weights.headerBytes }),
    ...(weights.tensors !== undefined && { tensors: weights.tensors }),
    parameters: weights.parameters,
    dtypes: weights.dtypes,
    requests: weights.requests,
    bytesRead: weights.bytesRead,
  };
}

/** Counts every request and every byte read through it. */
class CountingObjectStore implements ModelReads {
  requests = 0;
  bytesRead = 0;
  readonly location: string;

  constructor(private readonly inner: ModelReads) {
    this.location = inner.location;
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    this.requests += 1;
    return this.inner.list(prefix);
  }

  head(key: string, version?: ObjectVersion): Promise<ObjectInfo | undefined> {
    this.requests += 1;
    return this.inner.head(key, version);
  }

  async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
    this.requests += 1;
    const bytes = await this.inner.getRange(key, start, length);
    this.bytesRead += bytes.byteLength;
    return bytes;
  }

  async get(key: string, version?: ObjectVersion): Promise<Uint8Array | undefined> {
    this.requests += 1;
    const bytes = await this.inner.get(key, version);
    this.bytesRead += bytes?.byteLength ?? 0;
    return bytes;
  }
}

/** The ranged reads of one file, counted for its line in the report. */
class ReadTally {
  private requests = 0;
  private bytesRead = 0;

  constructor(
    private readonly store: ModelReads,
    private readonly key: string,
  ) {}

  async range(start: number, length: number): Promise<Uint8Array> {
    this.requests += 1;
    const bytes = await this.store.getRange(this.key, start, length);
    const kept = bytes.byteLength > length ? bytes.subarray(0, length) : bytes;
    this.bytesRead += kept.byteLength;
    return kept;
  }

  counts(): { requests: number; bytesRead: number } {
    return { requests: this.requests, bytesRead: this.bytesRead };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** `fn` over the items, at most `limit` at a time, each item started in order. */
async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
