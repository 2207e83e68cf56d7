// What a hostile model folder costs `modelship validate`: the worst cases of issue 10, generated at the caps
// (never committed), each validated by the real CLI in a child process whose peak RSS and time are printed
// against the Validate Lambda's memory. The goal: every case under 512 MiB and 10 s.
//
// Peak RSS is the child's own high-water mark, VmHWM of /proc/self/status, read at exit by a hook preloaded
// with `--import` and written to a file together with the child's CPU time (process.cpuUsage(): user and
// system, all threads): exact, with no polling and no /usr/bin/time. (Not getrusage's maxrss: on Linux it
// carries over the forking parent's RSS across exec, so it would count this bench's own buffers.) The time
// goal is judged on CPU time, as the Lambda would spend it: Lambda gives a function CPU in proportion to its
// memory, one vCPU at 1,769 MB (AWS Lambda developer guide, "Configure Lambda function memory"), so at
// 1,024 MB a CPU second takes ~1.7 s. Wall time on this machine is printed too, but it also counts waiting
// for a CPU others are using. Both include Node's and tsx's start-up; a valid tiny model is measured first as
// the reference.

import { formatBytes } from "../lib/core/report/report-format";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_GGUF_METADATA_ENTRIES, MAX_GGUF_TENSORS } from "../lib/core/weights/gguf";
import { MAX_MANIFEST_BYTES } from "../lib/core/resolution/manifest";
import { MAX_JSON_FILE_BYTES } from "../lib/core/weights/model-json-files";
import {
  MAX_SAFETENSORS_HEADER_BYTES,
  MAX_SAFETENSORS_NAME_CHARS,
  MAX_SAFETENSORS_TENSORS,
} from "../lib/core/weights/safetensors";
import { buildSafetensorsModel, type ModelFiles, writeModelFiles } from "../lib/examples/safetensors-model";
import { FUNCTION_MEMORY_MB } from "../lib/infra/model-pipeline";
import {
  ggufOfDuplicateTensors,
  ggufOfMetadata,
  indexOfEntries,
  jsonListOfObjects,
  modelClaimingLayers,
  safetensorsOfTensors,
  yamlFlowList,
} from "../test/support/hostile-models";

const CLI = fileURLToPath(new URL("../bin/modelship.mjs", import.meta.url));
const GOAL_MIB = 512;
const GOAL_SECONDS = 10;
const LAMBDA_MB = FUNCTION_MEMORY_MB.Validate ?? 0;
/** The share of a vCPU Lambda gives a function of LAMBDA_MB: one vCPU at 1,769 MB, in proportion. */
const LAMBDA_VCPU = LAMBDA_MB / 1769;

interface HostileCase {
  readonly name: string;
  readonly files: () => ModelFiles;
}

/** The tiny valid model with `extra` files added or replacing its own. */
function tinyWith(extra: Record<string, Uint8Array | string>): ModelFiles {
  const files = buildSafetensorsModel();
  for (const [path, content] of Object.entries(extra)) {
    files.set(path, typeof content === "string" ? new TextEncoder().encode(content) : content);
  }
  return files;
}

const CASES: readonly HostileCase[] = [
  {
    name: "safetensors: 4 shards of 93 MB headers, 1.4 million tensors each (issue 10: 3.4 GB, 56 s)",
    files: () => {
      const shard = safetensorsOfTensors(1_400_000, { maxHeaderBytes: 93_000_000 });
      const files = tinyWith({});
      files.delete("model.safetensors");
      for (let i = 1; i <= 4; i++) files.set(`model-0000${i}-of-00004.safetensors`, shard);
      return files;
    },
  },
  {
    name: `safetensors: the largest header (100 MB) with the most tensors kept (${MAX_SAFETENSORS_TENSORS.toLocaleString("en-US")}), their names filling the name budget`,
    files: () =>
      tinyWith({
        "extra.safetensors": safetensorsOfTensors(MAX_SAFETENSORS_TENSORS, {
          nameLength: Math.floor(MAX_SAFETENSORS_NAME_CHARS / MAX_SAFETENSORS_TENSORS) - 1,
          metadataBytes: MAX_SAFETENSORS_HEADER_BYTES - 128 * MAX_SAFETENSORS_TENSORS,
          maxHeaderBytes: MAX_SAFETENSORS_HEADER_BYTES,
        }),
      }),
  },
  {
    name: "safetensors: the largest header (100 MB), of metadata",
    files: () =>
      tinyWith({
        "extra.safetensors": safetensorsOfTensors(1, { metadataBytes: MAX_SAFETENSORS_HEADER_BYTES - 200 }),
      }),
  },
  {
    name: "GGUF: 2.5 million tensor infos of one name (issue 10: 2.6 GB; 150,000 crashed)",
    files: () => new Map([["model.gguf", ggufOfDuplicateTensors(2_500_000)]]),
  },
  {
    name: `GGUF: the most tensor infos read (${MAX_GGUF_TENSORS.toLocaleString("en-US")}), all of one name`,
    files: () => new Map([["model.gguf", ggufOfDuplicateTensors(MAX_GGUF_TENSORS)]]),
  },
  {
    name: `GGUF: the most metadata in 64 MiB (${MAX_GGUF_METADATA_ENTRIES.toLocaleString("en-US")} entries, 900-byte strings, a 200,000-token vocabulary)`,
    files: () => new Map([["model.gguf", ggufOfMetadata(MAX_GGUF_METADATA_ENTRIES - 2, 900, 200_000)]]),
  },
  {
    name: "config.json claiming 10^12 layers (issue 10: 10^8 took 2.2 GB, 10^12 crashed)",
    files: () => modelClaimingLayers(1e12),
  },
  {
    name: "the JSON files at their caps, shaped to cost a JSON parser the most",
    files: () =>
      tinyWith({
        "config.json": jsonListOfObjects(MAX_JSON_FILE_BYTES["config.json"]),
        "tokenizer_config.json": jsonListOfObjects(MAX_JSON_FILE_BYTES["tokenizer_config.json"]),
        "model.safetensors.index.json": jsonListOfObjects(MAX_JSON_FILE_BYTES.index),
      }),
  },
  {
    name: `a shard index of ${MAX_SAFETENSORS_TENSORS.toLocaleString("en-US")} weight_map entries, the most a model may have`,
    files: () => tinyWith({ "model.safetensors.index.json": indexOfEntries(MAX_SAFETENSORS_TENSORS) }),
  },
  {
    name: `a manifest at its cap (${MAX_MANIFEST_BYTES / 1024} KiB): a YAML flow list of numbers`,
    files: () => tinyWith({ "modelship.yaml": yamlFlowList(MAX_MANIFEST_BYTES - 64) }),
  },
];

interface Measured {
  readonly peakMiB: number;
  /** Wall time on this machine, spawn to exit. */
  readonly seconds: number;
  /** CPU time the child spent, user and system. */
  readonly cpuSeconds: number;
  readonly code: number | null;
  readonly errors: number;
  /** The codes of the errors, each once. */
  readonly codes: readonly string[];
}

/** Runs `modelship validate <folder> --json` in a child and measures it. */
async function measure(folder: string, usageFile: string): Promise<Measured> {
  const hook = [
    `import { readFileSync, writeFileSync } from "node:fs";`,
    `process.on("exit", () => {`,
    `  const hwmKiB = Number(/VmHWM:\\s*(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]);`,
    `  const { user, system } = process.cpuUsage();`,
    `  writeFileSync(${JSON.stringify(usageFile)}, JSON.stringify({ hwmKiB, cpuMicros: user + system }));`,
    `});`,
  ].join("\n");
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [`--import=data:text/javascript,${encodeURIComponent(hook)}`, CLI, "validate", folder, "--json"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode));
  });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 && code !== 1)
    throw new Error(`modelship validate exited ${code}: ${stderr.slice(0, 2000)}`);
  const usage = JSON.parse(await readFile(usageFile, "utf8")) as { hwmKiB: number; cpuMicros: number };
  const report = JSON.parse(stdout) as { errors: number; findings: { severity: string; code: string }[] };
  const codes = [...new Set(report.findings.filter((f) => f.severity === "error").map((f) => f.code))];
  return {
    peakMiB: usage.hwmKiB / 1024,
    seconds,
    cpuSeconds: usage.cpuMicros / 1e6,
    code,
    errors: report.errors,
    codes,
  };
}

export async function bench(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "modelship-bench-hostile-"));
  try {
    const rows: { name: string; measured: Measured }[] = [];
    const run = async (name: string, files: ModelFiles): Promise<Measured> => {
      const folder = join(work, `case-${rows.length}`);
      await writeModelFiles(folder, files);
      const bytes = [...files.values()].reduce((sum, f) => sum + f.byteLength, 0);
      try {
        const measured = await measure(folder, join(work, `usage-${rows.length}.json`));
        rows.push({ name: `${name} [${formatBytes(bytes)} on disk]`, measured });
        return measured;
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    };

    const reference = await run("reference: the tiny valid model", buildSafetensorsModel());
    if (reference.code !== 0) throw new Error("the reference model did not validate");
    for (const hostile of CASES) await run(hostile.name, hostile.files());

    console.log(
      `hostile: \`modelship validate --json\` in a child process per case: peak RSS against the Validate Lambda's ${LAMBDA_MB} MB, CPU time and what it takes on that Lambda's ${LAMBDA_VCPU.toFixed(2)} vCPU; goal < ${GOAL_MIB} MiB and < ${GOAL_SECONDS} s`,
    );
    console.log(
      "  peak MiB  of Lambda  × ref  CPU s  on Lambda s  wall s here  exit  errors  case (the errors' codes)",
    );
    const over: string[] = [];
    for (const { name, measured } of rows) {
      const { peakMiB, seconds, cpuSeconds, code, errors, codes } = measured;
      const onLambda = cpuSeconds / LAMBDA_VCPU;
      const ofLambda = `${((peakMiB * 1.048576 * 100) / LAMBDA_MB).toFixed(0)}%`;
      console.log(
        [
          peakMiB.toFixed(0).padStart(10),
          ofLambda.padStart(9),
          (peakMiB / reference.peakMiB).toFixed(1).padStart(5),
          cpuSeconds.toFixed(1).padStart(6),
          onLambda.toFixed(1).padStart(12),
          seconds.toFixed(1).padStart(12),
          String(code).padStart(5),
          String(errors).padStart(7),
          `  ${name}${codes.length > 0 ? ` (${codes.join(", ")})` : ""}`,
        ].join(" "),
      );
      if (peakMiB >= GOAL_MIB || onLambda >= GOAL_SECONDS) over.push(name);
    }
    if (over.length > 0)
      throw new Error(`over ${GOAL_MIB} MiB or ${GOAL_SECONDS} s on the Lambda: ${over.join("; ")}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
