// `modelship validate <folder | s3://bucket/prefix> [--json] [--gpu-memory GiB]`: runs the Validate stage on
// a model folder before it is uploaded (or on one already in S3) and prints every finding, the parameter
// count and the GPU plan. The folder's modelship.yaml|yml|json, if any, is checked and applied too.
// Exit codes: 0 valid, 1 invalid, 2 usage error (bad arguments, no such folder, store unreachable).

import { formatBytes } from "../core/report/report-format";
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { S3ObjectStore } from "../aws/s3-object-store";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../core/config/config";
import { type Finding, type Severity, sortFindings } from "../core/findings";
import { loadManifest, MAX_MANIFEST_BYTES, manifestTooLarge } from "../core/resolution/manifest";
import { type ResolvedManifest, MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import { terminalLines, terminalText } from "../core/text/terminal-text";
import { FolderObjectStore } from "../local/folder-object-store";
import { type ValidationReport, validateModel } from "../pipeline/validate";
import type { ObjectStore } from "../ports";
import { parseCommandLine } from "./command-line";
import { UsageError } from "./cli-command";

const USAGE = `Usage: modelship validate <folder | s3://bucket/prefix> [--json] [--gpu-memory <GiB>]

Checks a model folder before you upload it: every safetensors or GGUF header (read by ranges, never the
weights), the shard index, config.json against the tensors, the tokenizer, pickle files, the manifest,
and how many GPUs serving it needs.

Options:
  --json              print the report as JSON
  --gpu-memory <GiB>  memory of one GPU for the GPU plan (default ${DEFAULT_STACK_CONFIG.gpu.memoryGiB})
  -h, --help          show this help

Exit codes: 0 valid, 1 invalid, 2 usage error.`;

/** The names a manifest may have, in the order a folder's is looked for. */
export const MANIFEST_NAMES = ["modelship.yaml", "modelship.yml", "modelship.json"];

interface Target {
  readonly objects: ObjectStore;
  readonly prefix: string;
  readonly name: string;
  readonly version: string;
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine({
      args: argv,
      options: {
        json: { type: "boolean", default: false },
        "gpu-memory": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "give the folder or s3:// prefix to validate."
          : "give exactly one folder or s3:// prefix.",
      );
    }
    const config = withGpuMemory(DEFAULT_STACK_CONFIG, values["gpu-memory"]);
    const target = await openTarget(positionals[0]!);
    const { report, manifestFindings } = await validateTarget(target, config);
    const findings = sortFindings([...manifestFindings, ...report.findings]);
    const result: ValidationReport = {
      ...report,
      valid: !findings.some((f) => f.severity === "error"),
      errors: findings.filter((f) => f.severity === "error").length,
      warnings: findings.filter((f) => f.severity === "warning").length,
      findings,
    };
    console.log(values.json ? JSON.stringify(jsonReport(result), null, 2) : humanReport(result));
    return result.valid ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`modelship validate: ${terminalLines((error as Error).message)}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof StoreError) {
      console.error(`modelship validate: ${terminalLines(error.message)}`);
      return 2;
    }
    throw error;
  }
}

class StoreError extends Error {}

async function validateTarget(
  target: Target,
  config: StackConfig,
): Promise<{ report: ValidationReport; manifestFindings: Finding[] }> {
  try {
    const { manifest, findings } = await readManifest(target, config);
    const report = await validateModel(target.objects, target.prefix, {
      ...(manifest !== undefined && { manifest }),
      config,
      modelName: target.name,
    });
    return { report, manifestFindings: findings };
  } catch (error) {
    // Only what the store says — a file system error, an S3 error — is "could not read"; anything else is a
    // bug of modelship's, and surfaces as one rather than as a message that blames the folder.
    if (!isStoreFailure(error)) throw error;
    throw new StoreError(
      `could not read ${target.objects.location}/${target.prefix}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** A failure of the store itself: a Node.js file system error (`code`) or an AWS SDK error (`$metadata`). */
export function isStoreFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, $metadata } = error as { code?: unknown; $metadata?: unknown };
  return (
    (typeof code === "string" && /^E[A-Z]+$/.test(code)) ||
    (typeof $metadata === "object" && $metadata !== null)
  );
}

/**
 * The folder's manifest, checked and resolved against the stack config; its findings join the report. The
 * manifest returned is what the report plans from — every valid setting, even when others are refused.
 */
async function readManifest(
  target: Target,
  config: StackConfig,
): Promise<{ manifest?: ResolvedManifest; findings: Finding[] }> {
  const found: { name: string; size: number }[] = [];
  for (const name of MANIFEST_NAMES) {
    const info = await target.objects.head(`${target.prefix}${name}`);
    if (info) found.push({ name, size: info.size });
  }
  const [first, ...others] = found;
  if (!first) return { findings: [] };
  const findings: Finding[] = others.map((other) => ({
    severity: "warning",
    code: "manifest.several",
    file: other.name,
    message: `The folder has more than one manifest; ${first.name} is used and ${other.name} is ignored.`,
    hint: "Keep one manifest.",
  }));
  if (first.size > MAX_MANIFEST_BYTES) {
    return { findings: [...findings, manifestTooLarge(first.name, first.size)] };
  }
  const bytes = await target.objects.get(`${target.prefix}${first.name}`);
  if (!bytes) return { findings };
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    return { findings: [...findings, manifestTooLarge(first.name, bytes.byteLength)] };
  }
  const loaded = loadManifest(
    new TextDecoder().decode(bytes),
    { name: target.name, version: target.version, fileName: first.name },
    config,
  );
  findings.push(...loaded.findings);
  // A manifest with errors still plans from every setting it got right; one that could not be read at all
  // leaves the plan to the stack's defaults, and the report says so rather than presenting them as its own.
  if (loaded.planned === undefined) findings.push(defaultsUsed(first.name));
  return { ...(loaded.planned !== undefined && { manifest: loaded.planned }), findings };
}

function defaultsUsed(file: string): Finding {
  return {
    severity: "info",
    code: "manifest.defaults-used",
    file,
    message:
      "Nothing of the manifest could be read, so the checks and the GPU plan use the stack's defaults, not its settings.",
    hint: "Fix the errors in the manifest and validate again to see the plan for its settings.",
  };
}

async function openTarget(target: string): Promise<Target> {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(target);
  if (s3) {
    const [, bucket = "", rawPrefix = ""] = s3;
    const prefix = rawPrefix === "" || rawPrefix.endsWith("/") ? rawPrefix : `${rawPrefix}/`;
    const key = /^models\/([^/]+)\/([^/]+)\/$/.exec(prefix);
    const segments = prefix.split("/").filter(Boolean);
    return {
      objects: new S3ObjectStore({ bucket }),
      prefix,
      name: key?.[1] ?? modelNameFrom(segments.at(-1) ?? bucket),
      version: key?.[2] ?? "local",
    };
  }
  if (target.startsWith("s3:"))
    throw new UsageError(`'${target}' is not an S3 URI; write s3://bucket/prefix.`);
  const folder = resolve(target);
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new UsageError(`no such folder: ${folder}`);
  if (!info.isDirectory()) {
    throw new UsageError(`${folder} is a file; give the folder that holds the model's files.`);
  }
  return {
    objects: new FolderObjectStore(folder),
    prefix: "",
    name: modelNameFrom(basename(folder)),
    version: "local",
  };
}

/** A folder name made into a valid model name (`Meta-Llama-3-8B` → `meta-llama-3-8b`). */
export function modelNameFrom(folderName: string): string {
  const name = folderName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return MODEL_NAME_PATTERN.test(name) ? name : "model";
}

function withGpuMemory(config: StackConfig, value: string | undefined): StackConfig {
  if (value === undefined) return config;
  const memoryGiB = Number(value);
  if (!Number.isFinite(memoryGiB) || memoryGiB <= 0) {
    throw new UsageError(`--gpu-memory takes the GiB of one GPU (e.g. 24, 80), not '${value}'.`);
  }
  return { ...config, gpu: { ...config.gpu, memoryGiB } };
}

function jsonReport(report: ValidationReport): object {
  const { valid, parameters, findings, bytesRead, requests, gpu, ...rest } = report;
  return { valid, parameters, findings, bytesRead, requests, gpu, ...rest };
}

function humanReport(report: ValidationReport): string {
  const lines: string[] = [];
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  lines.push(`${report.model ?? "model"} (${report.location})`);
  lines.push(
    `${report.valid ? "✓ valid" : "✗ not valid"}: ${count(report.errors, "error")}, ${count(report.warnings, "warning")}`,
  );
  const weightFiles = report.files.filter((f) => f.format !== undefined).length;
  const what = [
    report.format,
    report.architecture,
    report.parameters > 0
      ? `${report.parameters.toLocaleString("en-US")} parameters${dtypeMix(report)}`
      : undefined,
    `${formatBytes(report.weightBytes)} of weights in ${count(weightFiles, "file")}, ${count(report.files.length, "file")} in all`,
  ].filter(Boolean);
  lines.push(`  ${what.join(" · ")}`);
  const share =
    report.weightBytes > 0 ? ` (${formatShare(report.bytesRead / report.weightBytes)} of the weights)` : "";
  lines.push(`  read ${formatBytes(report.bytesRead)} in ${count(report.requests, "request")}${share}`);
  if (report.format !== undefined) {
    const { serving } = report;
    lines.push(`Serving: ${serving.runtime} (${serving.image}), context ${serving.maxModelLen} tokens`);
    for (const note of serving.notes) lines.push(`  ${note}`);
  }
  if (report.parameters > 0) {
    const { gpu } = report;
    const verdict =
      gpu.gpus === 0
        ? "CPU (0 GPUs)"
        : `${gpu.gpus} × ${gpu.gpuMemoryGiB} GiB GPU${gpu.gpus === 1 ? "" : "s"}${gpu.fits ? "" : " — does not fit"}`;
    lines.push(`GPU plan: ${verdict}`, `  ${gpu.explanation}`);
  }
  const groups: [Severity, string][] = [
    ["error", "Errors"],
    ["warning", "Warnings"],
    ["info", "Notes"],
  ];
  for (const [severity, title] of groups) {
    const group = report.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    lines.push("", `${title} (${group.length})`);
    for (const f of group) {
      const where = [f.file, f.tensor && `tensor '${f.tensor}'`, f.path && `at ${f.path}`]
        .filter(Boolean)
        .join(" ");
      lines.push(`  ${where ? `${where}: ` : ""}${f.message}`);
      if (f.hint) lines.push(`    hint: ${f.hint}`);
    }
  }
  // Every line quotes the folder: names, architectures and messages are shown, never acted on by the terminal.
  return lines.map(terminalText).join("\n");
}

function dtypeMix(report: ValidationReport): string {
  const total = Object.values(report.dtypes).reduce((a, b) => a + b, 0);
  if (total === 0) return "";
  const parts = Object.entries(report.dtypes)
    .sort(([, a], [, b]) => b - a)
    .map(([dtype, n]) => `${dtype} ${formatShare(n / total)}`);
  return ` (${parts.join(", ")})`;
}

function formatShare(fraction: number): string {
  const percent = fraction * 100;
  if (percent >= 99.95 && fraction < 1) return "99.9%";
  if (percent >= 1 || percent === 0) return `${Number(percent.toFixed(1))}%`;
  return `${percent.toPrecision(2)}%`;
}
