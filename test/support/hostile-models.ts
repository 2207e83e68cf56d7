// The hostile inputs of issue 10, made by functions rather than kept as files: headers that declare millions
// of tensors, GGUF files of one duplicate tensor name, config.json claiming 10^12 layers, JSON shaped to cost
// JSON.parse the most, YAML shaped to cost its parser the most. Each takes its size, so the tests build small
// ones (the same code paths, in milliseconds) and bench/hostile builds them at the caps.

import { writeGguf } from "../../lib/core/weights/gguf-writer";
import {
  buildSafetensorsModel,
  llamaConfig,
  EXAMPLE_DIMENSIONS,
  type ModelFiles,
} from "../../lib/examples/safetensors-model";

/** ASCII text written into a buffer grown as needed, without building one big string first. */
class AsciiWriter {
  private bytes = new Uint8Array(1024);
  length = 0;

  text(value: string): this {
    if (this.length + value.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + value.length));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    for (let i = 0; i < value.length; i++) this.bytes[this.length++] = value.charCodeAt(i);
    return this;
  }

  /** The text written, with room for `before` bytes in front of it. */
  finish(before = 0): Uint8Array {
    const out = new Uint8Array(before + this.length);
    out.set(this.bytes.subarray(0, this.length), before);
    return out;
  }
}

export interface TensorsOptions {
  /** Each name is `t<n>` padded with `_` to this many characters (default: as short as it can be). */
  readonly nameLength?: number;
  /** A `__metadata__` string of about this many bytes ahead of the tensors (default none). */
  readonly metadataBytes?: number;
  /** Prefix of each name, e.g. `model.layers.` (default `t`). */
  readonly prefix?: string;
}

/**
 * A valid safetensors file of `count` one-element F32 tensors, laid out one after another — at 1.4 million
 * of them, issue 10's 93 MB header that cost 1.8 GB. With `maxHeaderBytes`, it stops adding tensors before
 * the header would grow past it.
 */
export function safetensorsOfTensors(
  count: number,
  options: TensorsOptions & { readonly maxHeaderBytes?: number } = {},
): Uint8Array {
  const header = new AsciiWriter().text("{");
  if (options.metadataBytes) header.text(`"__metadata__":{"notes":"${"x".repeat(options.metadataBytes)}"},`);
  const prefix = options.prefix ?? "t";
  const limit = (options.maxHeaderBytes ?? Infinity) - 1;
  let written = 0;
  for (; written < count; written++) {
    const name = `${prefix}${written}`.padEnd(options.nameLength ?? 0, "_");
    const offsets = `${4 * written},${4 * written + 4}`;
    const entry = `${written === 0 ? "" : ","}"${name}":{"dtype":"F32","shape":[1],"data_offsets":[${offsets}]}`;
    if (header.length + entry.length > limit) break;
    header.text(entry);
  }
  header.text("}");
  const headerLength = header.length;
  const file = new Uint8Array(8 + headerLength + 4 * written);
  file.set(header.finish(), 8);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength), true);
  return file;
}

/** A GGUF file whose `count` tensor infos all share one name and offset 0 — at 150,000, issue 10's crash. */
export function ggufOfDuplicateTensors(count: number, name = "blk.0.attn_q.weight"): Uint8Array {
  const tensors = Array.from({ length: count }, () => ({ name, dims: [8], type: "F32", offset: 0 }));
  return writeGguf({ metadata: [["general.architecture", { type: "string", value: "llama" }]], tensors });
}

/**
 * A GGUF file with `entries` metadata strings of `valueBytes` each and a vocabulary of `tokens` strings: the
 * most metadata a header can carry for its size.
 */
export function ggufOfMetadata(entries: number, valueBytes: number, tokens: number): Uint8Array {
  const value = "v".repeat(valueBytes);
  return writeGguf({
    metadata: [
      ["general.architecture", { type: "string", value: "llama" }],
      ...Array.from({ length: entries }, (_, i) => [`meta.${i}`, { type: "string", value }] as const),
      [
        "tokenizer.ggml.tokens",
        {
          type: "array",
          itemType: "string",
          items: Array.from({ length: tokens }, (_, i) => ({ type: "string", value: `tok${i}` }) as const),
        },
      ],
    ],
    tensors: [{ name: "token_embd.weight", dims: [8, tokens], type: "F32" }],
  });
}

/** A small valid model whose config.json claims `layers` hidden layers (10^8 cost 2.2 GB, 10^12 crashed). */
export function modelClaimingLayers(layers: number): ModelFiles {
  const files = buildSafetensorsModel();
  const config = llamaConfig(EXAMPLE_DIMENSIONS.tiny, { num_hidden_layers: layers });
  files.set("config.json", new TextEncoder().encode(JSON.stringify(config)));
  return files;
}

/** `bytes` of JSON that costs JSON.parse the most memory for its size: a list of empty objects. */
export function jsonListOfObjects(bytes: number): Uint8Array {
  const count = Math.max(1, Math.floor((bytes - 1) / 3));
  const out = new AsciiWriter().text("[");
  for (let i = 0; i < count; i++) out.text(i === 0 ? "{}" : ",{}");
  return out.text("]").finish();
}

/** A shard index mapping `entries` short tensor names to one shard. */
export function indexOfEntries(entries: number): Uint8Array {
  const out = new AsciiWriter().text('{"metadata":{"total_size":0},"weight_map":{');
  for (let i = 0; i < entries; i++) out.text(`${i === 0 ? "" : ","}"t${i}":"model.safetensors"`);
  return out.text("}}").finish();
}

/** About `bytes` of YAML that costs the parser the most for its size: a flow list of numbers. */
export function yamlFlowList(bytes: number): string {
  return `name: hostile\nnotes: [${"0,".repeat(Math.max(1, Math.floor((bytes - 24) / 2)))}0]\n`;
}
