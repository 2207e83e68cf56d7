// `modelship example <dir> --format safetensors|gguf [--size tiny|small] [--seed N] [--shards N]`: writes a
// small generated model folder, with a modelship.yaml, to try the other commands on. Deterministic: the
// same options write the same bytes.

import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildTinyLlamaGguf } from "../examples/gguf-model";
import { buildSafetensorsModel, type ModelFiles, writeModelFiles } from "../examples/safetensors-model";
import { parseCommandLine } from "./command-line";
import { UsageError } from "./cli-command";

const USAGE = `Usage: modelship example <dir> --format safetensors|gguf [--size tiny|small] [--seed N] [--shards N]

Writes a small generated llama model (random weights) with a modelship.yaml into <dir>, which must be
empty or not exist yet.

Options:
  --format safetensors|gguf  a Hugging Face folder (config, tokenizer, safetensors) or one GGUF file
  --size tiny|small          about 110k or 3M parameters (default tiny)
  --seed N                   seeds the weights (default 1)
  --shards N                 safetensors only: split the weights into N shards with an index (default 1)`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine({
      args: argv,
      options: {
        format: { type: "string" },
        size: { type: "string", default: "tiny" },
        seed: { type: "string", default: "1" },
        shards: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError("give the folder to write the example into.");
    const format = values.format;
    if (format !== "safetensors" && format !== "gguf") {
      throw new UsageError(
        `--format must be safetensors or gguf${format === undefined ? "" : `, not '${format}'`}.`,
      );
    }
    const size = values.size;
    if (size !== "tiny" && size !== "small")
      throw new UsageError(`--size must be tiny or small, not '${size}'.`);
    const seed = integerOption("--seed", values.seed, 0);
    if (format === "gguf" && values.shards !== undefined) {
      throw new UsageError("--shards applies to safetensors only; a GGUF example is one file.");
    }
    const shards = values.shards === undefined ? 1 : integerOption("--shards", values.shards, 1);

    const dir = resolve(positionals[0]!);
    const existing = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw new UsageError(`cannot write into ${dir}: ${error.message}`);
    });
    if (existing.length > 0) throw new UsageError(`${dir} is not empty; give a new or empty folder.`);

    let files: ModelFiles;
    try {
      files =
        format === "gguf"
          ? new Map([["model.gguf", buildTinyLlamaGguf({ seed, size })]])
          : buildSafetensorsModel({ seed, size, shards });
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    files.set("modelship.yaml", new TextEncoder().encode(manifestFor(format)));
    await writeModelFiles(dir, files);

    console.log(`Wrote a ${size} ${format} example model to ${dir}:`);
    for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      console.log(`  ${path.padEnd(36)} ${bytes.byteLength.toLocaleString("en-US").padStart(12)} bytes`);
    }
    console.log(`\nNext: npx modelship validate ${join(positionals[0]!)}`);
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_"))) {
      console.error(`modelship example: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

function integerOption(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${name} takes a whole number of at least ${min}, not '${value}'.`);
  }
  return n;
}

/** A manifest that suits a random-weights model: its output is noise, so degenerate answers are expected. */
function manifestFor(format: "safetensors" | "gguf"): string {
  const serving =
    format === "gguf"
      ? ["serving:", "  runtime: llama.cpp", "  maxModelLen: 256"]
      : ["serving:", "  runtime: vllm", "  maxModelLen: 4096"];
  return [
    "# A generated example model with random weights: it loads and answers, but its text is noise.",
    `format: ${format}`,
    ...serving,
    "gates:",
    "  smoke:",
    "    rejectDegenerate: false",
    "",
  ].join("\n");
}
