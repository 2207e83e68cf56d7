// Issue 10's hostile model folders, each a finding at a bounded cost: what crashed or took gigabytes before —
// config.json claiming 10^12 layers, GGUF files of 150,000 tensor infos of one name, safetensors headers of a
// million tensors — is built here by the generators of test/support/hostile-models.ts, at the smallest size
// that shows it, and must come back as findings, capped per kind, with what is kept bounded by the caps.

import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import {
  type GgufParseResult,
  MAX_GGUF_METADATA_ENTRIES,
  MAX_GGUF_TENSORS,
  parseGguf,
} from "../../lib/core/weights/gguf";
import {
  MAX_JSON_FILE_BYTES,
  parseJsonFile,
  readShardIndexFile,
} from "../../lib/core/weights/model-json-files";
import {
  MAX_SAFETENSORS_TENSORS,
  modelTensorBudget,
  parseSafetensorsHeader,
  SAFETENSORS_PREFIX_BYTES,
} from "../../lib/core/weights/safetensors";
import { buildSafetensorsModel } from "../../lib/examples/safetensors-model";
import { FIRST_READ_BYTES, validateModel } from "../../lib/pipeline/validate";
import {
  ggufOfDuplicateTensors,
  ggufOfMetadata,
  indexOfEntries,
  jsonListOfObjects,
  modelClaimingLayers,
  safetensorsOfTensors,
} from "../support/hostile-models";
import { assertCappedPerCode } from "../support/fuzz-targets";
import { MemoryObjectStore } from "../support/memory-object-store";

const PREFIX = "models/hostile/v1/";
const config = DEFAULT_STACK_CONFIG;

function parsedGguf(bytes: Uint8Array): Extract<GgufParseResult, { kind: "parsed" }> {
  const result = parseGguf(bytes, bytes.length, "model.gguf");
  if (result.kind !== "parsed") throw new Error(`asked for ${result.bytes} more bytes`);
  return result;
}

function headerOf(file: Uint8Array): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return file.subarray(SAFETENSORS_PREFIX_BYTES, SAFETENSORS_PREFIX_BYTES + length);
}

/** A collector for the heap check: V8's gc, exposed at run time. */
function gcFunction(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

describe("config.json claiming more layers than the weights hold (item 3)", () => {
  it.each([1e8, 1e12])(
    "names the missing layers by their first numbers and their count when it claims %d, without a list of them",
    async (layers) => {
      const report = await validateModel(
        new MemoryObjectStore().addFiles(PREFIX, modelClaimingLayers(layers)),
        PREFIX,
        {
          config,
        },
      );
      const finding = report.findings.find((f) => f.code === "config.num-hidden-layers");
      expect(finding?.message).toBe(
        `config.json says num_hidden_layers = ${layers}, but the weights hold 2 layer(s): layers 2, 3, 4, 5, 6, 7, 8, 9, … (${layers - 2} in all) are missing.`,
      );
    },
  );
});

describe("a GGUF file of many tensor infos of one name (item 4)", () => {
  it("refuses 150,000 tensor infos — issue 10's stack overflow — as one finding, reading none of them", () => {
    const result = parsedGguf(ggufOfDuplicateTensors(150_000));
    expect(result.findings).toEqual([
      expect.objectContaining({
        code: "gguf.count",
        message: `The header at byte 8 declares 150000 tensors; modelship reads at most ${MAX_GGUF_TENSORS}, far more than any real model has.`,
      }),
    ]);
    expect(result.info.tensors).toEqual([]);
  });

  it(`reads ${MAX_GGUF_TENSORS} of them, the cap, with one finding per name and the overlaps capped per kind`, () => {
    const result = parsedGguf(ggufOfDuplicateTensors(MAX_GGUF_TENSORS));
    expect(result.info.tensors).toHaveLength(MAX_GGUF_TENSORS);
    expect(result.findings.filter((f) => f.code === "gguf.tensor.duplicate")).toHaveLength(1);
    assertCappedPerCode(result.findings, "gguf");
    expect(result.findings.at(-1)?.message).toMatch(
      /^\d+ more findings like the ones above \(gguf\.tensor\.overlap\)/,
    );
  });

  it(`refuses more than ${MAX_GGUF_METADATA_ENTRIES} metadata entries, and summarizes strings past the header's text budget`, () => {
    const tooMany = parsedGguf(ggufOfMetadata(MAX_GGUF_METADATA_ENTRIES, 1, 1));
    expect(tooMany.findings.map((f) => f.code)).toEqual(["gguf.count"]);

    const long = parsedGguf(ggufOfMetadata(300, 64 * 1024, 1));
    const values = Object.entries(long.info.metadata).filter(([key]) => key.startsWith("meta."));
    const kept = values.filter(([, value]) => typeof value === "string");
    expect(values).toHaveLength(300);
    // 16 MiB of strings in all, "llama" among them: 255 of the 64 KiB strings fit.
    expect(kept.length).toBe(255);
    expect(values.at(-1)?.[1]).toEqual({ type: "string", length: 64 * 1024 });
  });
});

describe("safetensors headers of a million tensors (item 5)", () => {
  it("keeps no more tensors than the model's budget, says where it stopped, and reads no further", () => {
    const file = safetensorsOfTensors(1000);
    const budget = { tensors: 100, nameChars: 1 << 20 };
    const { header, findings } = parseSafetensorsHeader(
      headerOf(file),
      file.length,
      "model.safetensors",
      budget,
    );
    expect(header?.tensors).toHaveLength(100);
    expect(budget.tensors).toBe(0);
    expect(findings).toEqual([
      expect.objectContaining({
        code: "safetensors.tensors.too-many",
        message: expect.stringContaining("at 't100'"),
      }),
    ]);
  });

  it("stops when the names kept would pass the budget of name characters, however few the tensors", () => {
    const file = safetensorsOfTensors(50, { nameLength: 1000 });
    const budget = { tensors: MAX_SAFETENSORS_TENSORS, nameChars: 10_500 };
    const { header, findings } = parseSafetensorsHeader(
      headerOf(file),
      file.length,
      "model.safetensors",
      budget,
    );
    expect(header?.tensors).toHaveLength(10);
    expect(findings.map((f) => f.code)).toEqual(["safetensors.tensors.too-many"]);
  });

  it("does not parse a tensor entry bigger than an entry can be", () => {
    const text = `{"a":{"dtype":"F32","shape":[${"1,".repeat(40_000)}1],"data_offsets":[0,4]}}`;
    const header = new TextEncoder().encode(text);
    const { findings } = parseSafetensorsHeader(header, 8 + header.length + 4, "model.safetensors");
    expect(findings.map((f) => [f.code, f.tensor])).toEqual([
      ["safetensors.tensor.invalid", "a"],
      ["safetensors.data.trailing-bytes", undefined],
    ]);
  });

  it(`shares one budget across the model's files: past ${MAX_SAFETENSORS_TENSORS} tensors in all, the next file is a finding, not read`, async () => {
    const files = buildSafetensorsModel();
    files.delete("model.safetensors");
    files.set("model-00001-of-00002.safetensors", safetensorsOfTensors(MAX_SAFETENSORS_TENSORS));
    files.set("model-00002-of-00002.safetensors", safetensorsOfTensors(10, { prefix: "u" }));
    const store = new MemoryObjectStore().addFiles(PREFIX, files);
    const report = await validateModel(store, PREFIX, { config });
    const second = report.findings.filter((f) => f.file === "model-00002-of-00002.safetensors");
    expect(second.map((f) => f.code)).toContain("safetensors.tensors.too-many");
    expect(second.find((f) => f.code === "safetensors.tensors.too-many")?.message).toContain(
      "this file's header was not read",
    );
    expect(report.files.find((f) => f.path === "model-00001-of-00002.safetensors")?.tensors).toBe(
      MAX_SAFETENSORS_TENSORS,
    );
    // Its first read only: the header it holds is never parsed.
    expect(store.reads.filter((r) => r.key.endsWith("model-00002-of-00002.safetensors"))).toHaveLength(1);
    assertCappedPerCode(report.findings, "validate");
  });

  it("reads and parses one header bigger than the first read at a time, so two are never held at once", async () => {
    let inFlight = 0;
    let most = 0;
    class SlowStore extends MemoryObjectStore {
      override async getRange(key: string, start: number, length: number): Promise<Uint8Array> {
        const big = length > FIRST_READ_BYTES;
        if (big) most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        try {
          return await super.getRange(key, start, length);
        } finally {
          if (big) inFlight -= 1;
        }
      }
    }
    const files = buildSafetensorsModel();
    files.delete("model.safetensors");
    for (let i = 1; i <= 4; i++)
      files.set(`model-0000${i}-of-00004.safetensors`, safetensorsOfTensors(5000, { prefix: `s${i}.` }));
    const store = new SlowStore().addFiles(PREFIX, files);
    const report = await validateModel(store, PREFIX, { config });
    expect(report.files.filter((f) => f.requests === 2)).toHaveLength(4);
    expect(most).toBe(1);
  });

  it("keeps only what the checks need once a file is checked: its tensors' names and shapes", () => {
    const gc = gcFunction();
    const file = safetensorsOfTensors(200_000, { metadataBytes: 20_000_000 });
    gc();
    const before = process.memoryUsage().heapUsed;
    const budget = modelTensorBudget();
    const { header } = parseSafetensorsHeader(headerOf(file), file.length, "model.safetensors", budget);
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    expect(header?.tensors).toHaveLength(200_000);
    // ~150 bytes a tensor (name, record, shape) and none of the 20 MB of metadata: a generous bound.
    expect(retained).toBeLessThan(200_000 * 400);
    expect(header?.metadata).toEqual({});
  });
});

describe("findings that quote what a file holds", () => {
  it("cut a 100,000-character tensor name short, so the findings the execution state carries stay small", async () => {
    const name = "x".repeat(100_000);
    const text = JSON.stringify(
      Object.fromEntries(
        Array.from({ length: 30 }, (_, i) => [
          `${name}${i}`,
          { dtype: "Q9", shape: [1], data_offsets: [i, i + 1] },
        ]),
      ),
    );
    const files = buildSafetensorsModel();
    const header = new TextEncoder().encode(text);
    const file = new Uint8Array(8 + header.length + 30);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    files.set("extra.safetensors", file);
    const report = await validateModel(new MemoryObjectStore().addFiles(PREFIX, files), PREFIX, { config });
    const unknown = report.findings.filter((f) => f.code === "safetensors.dtype.unknown");
    expect(unknown).toHaveLength(30);
    for (const f of unknown) expect(f.tensor).toMatch(/^x{299}…$/);
    expect(JSON.stringify(report.findings.slice(0, 20)).length).toBeLessThan(64 * 1024);
  });
});

describe("the JSON files, at and past their caps", () => {
  it("refuses a config.json bigger than its cap without reading it", async () => {
    const files = buildSafetensorsModel();
    files.set("config.json", jsonListOfObjects(MAX_JSON_FILE_BYTES["config.json"] + 10));
    const store = new MemoryObjectStore().addFiles(PREFIX, files);
    const report = await validateModel(store, PREFIX, { config });
    expect(report.findings.filter((f) => f.file === "config.json").map((f) => f.code)).toEqual([
      "json.too-large",
    ]);
    expect(store.reads.filter((r) => r.key === `${PREFIX}config.json`)).toEqual([]);
  });

  it(`refuses an index of more than ${MAX_SAFETENSORS_TENSORS} entries, having kept no more than that`, () => {
    const read = readShardIndexFile(
      indexOfEntries(MAX_SAFETENSORS_TENSORS + 1),
      "model.safetensors.index.json",
    );
    expect(read.index).toBeUndefined();
    expect(read.findings.map((f) => f.code)).toEqual(["index.too-many-tensors"]);
  });

  it("reads an index whose weight_map is a list as an index without a map, which the check refuses", () => {
    const read = readShardIndexFile(new TextEncoder().encode('{"weight_map":[],"":{"":0}}'), "index.json");
    expect(read).toEqual({ index: {}, findings: [] });
  });

  it("quotes at most a short escaped excerpt of a file that is not JSON, never its content", () => {
    const passwd = new TextEncoder().encode(
      "root:x:0:0:root:/root:/bin/bash\n\u001b[2Jdaemon:x:1:1::/usr/sbin\n",
    );
    expect(parseJsonFile(passwd, "config.json").findings).toEqual([
      expect.objectContaining({
        code: "json.invalid",
        message: 'Not valid UTF-8 JSON (expected a value at byte 0 (found "root:x:0:0:r…")).',
      }),
    ]);
  });
});
