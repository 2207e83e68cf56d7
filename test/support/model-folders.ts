// Tiny model folders on disk, as a user has them before `modelship init` or `validate`: a GGUF file, or a
// Hugging Face safetensors folder (config, tokenizer, weights), generated — never copied files.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { buildSafetensorsModel, writeModelFiles } from "../../lib/examples/safetensors-model";

/** Writes a tiny random-weights llama into `dir`, with no manifest; `config` edits a safetensors config.json. */
export async function writeTinyModelFolder(
  dir: string,
  format: "gguf" | "safetensors",
  config: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  if (format === "gguf") {
    await writeModelFiles(dir, new Map([["model.gguf", buildTinyLlamaGguf({ seed: 1 })]]));
    return;
  }
  const files = buildSafetensorsModel({ seed: 1 });
  await writeModelFiles(dir, files);
  if (Object.keys(config).length > 0) {
    const original = JSON.parse(new TextDecoder().decode(files.get("config.json"))) as object;
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...original, ...config }, null, 2));
  }
}
