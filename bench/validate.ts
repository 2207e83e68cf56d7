// How little Validate reads of a real-sized model. Builds Meta-Llama-3-8B's exact safetensors layout — the
// four BF16 shards of its published model.safetensors.index.json (the same tensor-to-shard split), the
// real tensor names and shapes, headers written the way the safetensors writer writes them — as sparse
// files (real headers, holes for the 15 GB of data) in a temp folder, validates it through the folder
// store, and prints requests per shard and bytes read as a fraction of the model.

import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STACK_CONFIG } from "../lib/core/config/config";
import {
  CHATML_TEMPLATE,
  encodeSafetensorsHeader,
  type LlamaDimensions,
  llamaConfig,
  llamaTensorShapes,
  shardFileName,
  type TensorShape,
} from "../lib/examples/safetensors-model";
import { FolderObjectStore } from "../lib/local/folder-object-store";
import { FIRST_READ_BYTES, validateModel } from "../lib/pipeline/validate";

const LLAMA_3_8B: LlamaDimensions = {
  vocabSize: 128256,
  hidden: 4096,
  layers: 32,
  heads: 32,
  kvHeads: 8,
  intermediate: 14336,
  maxPositionEmbeddings: 8192,
};
/** From the model card and index: 8,030,261,248 parameters, `total_size` 16,060,522,496 bytes. */
const PUBLISHED_PARAMETERS = 8_030_261_248;
const PUBLISHED_TOTAL_SIZE = 16_060_522_496;
const SHARDS = 4;
/** The shard file sizes the Hugging Face repository lists: a check that headers and split are the real ones. */
const PUBLISHED_SHARD_SIZES = [4_976_698_672, 4_999_802_720, 4_915_916_176, 1_168_138_808];

/**
 * The shard (0-based) each tensor is in, as Meta-Llama-3-8B's index assigns them: layers 0–8 with the
 * embedding in the first; 9–19 and the attention and gate of 20 in the second; the rest of 20, 21–30 and
 * all of 31 but its down projection and norms in the third; those, the final norm and lm_head in the last.
 */
function shardOf(name: string): number {
  if (name === "model.embed_tokens.weight") return 0;
  if (name === "model.norm.weight" || name === "lm_head.weight") return 3;
  const [, layerText = "", part = ""] = /^model\.layers\.(\d+)\.(.*)$/.exec(name) ?? [];
  const layer = Number(layerText);
  const early = part.startsWith("self_attn.") || part === "mlp.gate_proj.weight";
  if (layer <= 8) return 0;
  if (layer <= 19) return 1;
  if (layer === 20) return early ? 1 : 2;
  if (layer <= 30) return 2;
  return early || part === "mlp.up_proj.weight" ? 2 : 3;
}

export async function bench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "modelship-bench-validate-"));
  try {
    const shards: TensorShape[][] = Array.from({ length: SHARDS }, () => []);
    for (const tensor of llamaTensorShapes(LLAMA_3_8B)) shards[shardOf(tensor.name)]!.push(tensor);
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, tensors] of shards.entries()) {
      const name = shardFileName(i, SHARDS);
      const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
      const { bytes, dataBytes } = encodeSafetensorsHeader(sorted.map((t) => ({ ...t, dtype: "BF16" })));
      const file = await open(join(dir, name), "w");
      await file.write(bytes);
      await file.truncate(bytes.byteLength + dataBytes);
      await file.close();
      for (const t of sorted) weightMap[t.name] = name;
      totalSize += dataBytes;
    }
    const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
    const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFile(
      join(dir, "model.safetensors.index.json"),
      json({ metadata: { total_size: totalSize }, weight_map: sortedMap }),
    );
    await writeFile(
      join(dir, "config.json"),
      json(
        llamaConfig(LLAMA_3_8B, {
          bos_token_id: 128000,
          eos_token_id: 128001,
          rope_theta: 500000,
          pretraining_tp: 1,
          rope_scaling: null,
        }),
      ),
    );
    // Validate checks that tokenizer.json exists and never reads it; a placeholder stands in for its 9 MB.
    await writeFile(join(dir, "tokenizer.json"), "{}\n");
    await writeFile(join(dir, "tokenizer_config.json"), json({ chat_template: CHATML_TEMPLATE }));
    await writeFile(
      join(dir, "generation_config.json"),
      json({ bos_token_id: 128000, eos_token_id: 128001 }),
    );

    const report = await validateModel(new FolderObjectStore(dir), "", { config: DEFAULT_STACK_CONFIG });

    console.log("validate: Meta-Llama-3-8B layout (4 BF16 shards, sparse files)");
    console.log(
      `  index total_size ${totalSize.toLocaleString("en-US")} bytes (published ${PUBLISHED_TOTAL_SIZE.toLocaleString("en-US")}): ${totalSize === PUBLISHED_TOTAL_SIZE ? "same" : "DIFFERENT"}`,
    );
    console.log(
      "  shard                               size (bytes)   published   header   requests   bytes read   of shard",
    );
    let minimum = 0;
    const shardReports = report.files.filter((f) => f.format === "safetensors");
    const sizesMatch = shardReports.every((f, i) => f.size === PUBLISHED_SHARD_SIZES[i]);
    for (const [i, file] of shardReports.entries()) {
      minimum += 8 + (file.headerBytes ?? 0);
      console.log(
        `  ${file.path.padEnd(34)} ${file.size.toLocaleString("en-US").padStart(14)} ${(file.size === PUBLISHED_SHARD_SIZES[i] ? "same" : "DIFFERENT").padStart(11)} ${String(file.headerBytes).padStart(8)} ${String(file.requests).padStart(10)} ${String(file.bytesRead).padStart(12)}   ${percent((file.bytesRead ?? 0) / file.size)}`,
      );
    }
    console.log(
      `  total: ${report.requests} requests (1 list, ${SHARDS} shard reads, 3 JSON files), ${report.bytesRead.toLocaleString("en-US")} bytes read = ${percent(report.bytesRead / report.totalBytes)} of ${report.totalBytes.toLocaleString("en-US")} bytes`,
    );
    console.log(
      `  bytes read / bytes the headers occupy (8-byte prefix + JSON): ${(report.bytesRead / minimum).toFixed(1)}× (the first read is up to ${FIRST_READ_BYTES / 1024} KiB per shard)`,
    );
    console.log(
      `  parameters ${report.parameters.toLocaleString("en-US")} (published ${PUBLISHED_PARAMETERS.toLocaleString("en-US")}): ${report.parameters === PUBLISHED_PARAMETERS ? "same" : "DIFFERENT"}`,
    );
    console.log(`  GPU plan: ${report.gpu.gpus} GPU(s); ${report.gpu.explanation}`);
    console.log(`  valid: ${report.valid} (${report.errors} errors, ${report.warnings} warnings)`);
    if (
      !report.valid ||
      report.parameters !== PUBLISHED_PARAMETERS ||
      !sizesMatch ||
      totalSize !== PUBLISHED_TOTAL_SIZE
    ) {
      throw new Error(
        `the reconstructed Llama-3-8B did not validate as expected: ${JSON.stringify(report.findings)}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function percent(fraction: number): string {
  return `${(fraction * 100).toPrecision(2)}%`;
}
