import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run as example } from "../../lib/cli/example";
import { run as validate } from "../../lib/cli/validate";
import { cliTestBench } from "../support/cli-test-bench";

const cli = cliTestBench("cli-example");

describe("modelship example", () => {
  it("writes a sharded safetensors model with a manifest that validates", async () => {
    const dir = join(cli.root, "llama");
    expect(await example([dir, "--format", "safetensors", "--shards", "2"])).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([
      "config.json",
      "generation_config.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
      "modelship.yaml",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    expect(cli.stdout.join("\n")).toContain(`Next: npx modelship validate ${dir}`);
    expect(await validate([dir])).toBe(0);
  });

  it("writes a GGUF model for llama.cpp that validates", async () => {
    const dir = join(cli.root, "gguf");
    expect(await example([dir, "--format", "gguf"])).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(["model.gguf", "modelship.yaml"]);
    expect(await readFile(join(dir, "modelship.yaml"), "utf8")).toContain("runtime: llama.cpp");
    expect(await validate([dir])).toBe(0);
    expect(cli.stdout.join("\n")).toContain("GPU plan: CPU (0 GPUs)");
  });

  it("writes the same bytes for the same seed and different bytes for another", async () => {
    const read = async (seed: string, name: string): Promise<Buffer> => {
      await example([join(cli.root, name), "--format", "safetensors", "--seed", seed]);
      return readFile(join(cli.root, name, "model.safetensors"));
    };
    const [a, b, c] = [await read("5", "a"), await read("5", "b"), await read("6", "c")];
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it("refuses to write into a folder that is not empty", async () => {
    const dir = join(cli.root, "full");
    await mkdir(dir);
    await writeFile(join(dir, "keep.txt"), "mine");
    expect(await example([dir, "--format", "gguf"])).toBe(2);
    expect(cli.stderr.join("\n")).toContain("is not empty");
    expect(await readdir(dir)).toEqual(["keep.txt"]);
  });

  it.each([
    ["no format", ["d"], /--format must be safetensors or gguf/],
    ["an unknown format", ["d", "--format", "onnx"], /not 'onnx'/],
    ["shards for GGUF", ["d", "--format", "gguf", "--shards", "2"], /safetensors only/],
    ["zero shards", ["d", "--format", "safetensors", "--shards", "0"], /at least 1/],
    ["more shards than tensors", ["d", "--format", "safetensors", "--shards", "999"], /shards must be/],
    ["a bad size", ["d", "--format", "gguf", "--size", "huge"], /tiny or small/],
  ])("exits 2 with usage for %s", async (_, args, message) => {
    const [dir, ...rest] = args;
    expect(await example([join(cli.root, dir!), ...rest])).toBe(2);
    expect(cli.stderr.join("\n")).toMatch(message);
  });
});
