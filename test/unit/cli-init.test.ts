import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { run as init } from "../../lib/cli/init";
import { run as schemaCommand } from "../../lib/cli/schema";
import { MANIFEST_SCHEMA_FILE, SCHEMAS_DIR, schemaText } from "../../lib/cli/schema-files";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import { manifestJsonSchema } from "../../lib/core/manifest/manifest-json-schema";
import { compileJsonSchema, jsonSchemaErrors } from "../support/json-schema-validator";
import { writeTinyModelFolder } from "../support/model-folders";
import { cliTestBench } from "../support/cli-test-bench";

const cli = cliTestBench("cli-init");

const validateAgainstSchema = compileJsonSchema(manifestJsonSchema());

/** The written manifest: parsed by modelship's parser and checked against the JSON Schema, as an editor would. */
async function writtenManifest(folder: string) {
  const text = await readFile(join(folder, "modelship.yaml"), "utf8");
  const parsed = parseManifest(text, "modelship.yaml");
  expect(parsed.findings).toEqual([]);
  const data: unknown = parse(text) ?? {};
  expect(validateAgainstSchema(data), jsonSchemaErrors(validateAgainstSchema).join("; ")).toBe(true);
  return { text, manifest: parsed.manifest! };
}

/** The path or URL the file's first line names as its schema (yaml-language-server's modeline). */
function schemaLineOf(text: string): string {
  const first = text.split("\n")[0]!;
  expect(first).toMatch(/^# yaml-language-server: \$schema=\S+$/);
  return first.slice(first.indexOf("=") + 1);
}

describe("modelship init", () => {
  it("writes a manifest for a GGUF folder that parses and validates against the JSON Schema", async () => {
    const folder = join(cli.root, "tiny-gguf");
    await writeTinyModelFolder(folder, "gguf");
    expect(await init([folder])).toBe(0);
    const { text, manifest } = await writtenManifest(folder);
    expect(manifest).toEqual({ format: "gguf", serving: { runtime: "llama.cpp", maxModelLen: 256 } });
    expect(text).toContain("# maxModelLen 256: the model's own context.");
    expect(text).toContain("# GPU plan: CPU (0 GPUs).");
    expect(cli.stdout.join("\n")).toContain(`Wrote ${join(folder, "modelship.yaml")}`);
  });

  it("writes a manifest for a safetensors folder with the context from config.json, capped at the stack's", async () => {
    const folder = join(cli.root, "tiny-llama");
    await writeTinyModelFolder(folder, "safetensors", { max_position_embeddings: 131072 });
    expect(await init([folder])).toBe(0);
    const { text, manifest } = await writtenManifest(folder);
    expect(manifest).toEqual({
      format: "safetensors",
      serving: { runtime: "vllm", maxModelLen: DEFAULT_STACK_CONFIG.defaults.serving.maxModelLen },
    });
    expect(text).toContain("below the model's 131072 tokens");
    expect(text).toMatch(/# GPU plan: 1 × 80 GiB GPU\./);
  });

  it("names the packaged schema by a path that leads to it from the folder", async () => {
    const folder = join(cli.root, "models", "tiny");
    await writeTinyModelFolder(folder, "gguf");
    expect(await init([folder])).toBe(0);
    const { text } = await writtenManifest(folder);
    const schemaPath = resolve(folder, schemaLineOf(text));
    expect(schemaPath).toBe(join(SCHEMAS_DIR, MANIFEST_SCHEMA_FILE));
    expect(await readFile(schemaPath, "utf8")).toBe(schemaText(manifestJsonSchema()));
  });

  it("names the schema given with --schema", async () => {
    const folder = join(cli.root, "tiny");
    await writeTinyModelFolder(folder, "gguf");
    const url = "https://schemas.example.com/modelship.schema.json";
    expect(await init([folder, "--schema", url])).toBe(0);
    expect(schemaLineOf((await writtenManifest(folder)).text)).toBe(url);
  });

  it("shows the stack's gate and rollout defaults commented, and uncommented they change nothing", async () => {
    const folder = join(cli.root, "tiny");
    await writeTinyModelFolder(folder, "gguf");
    expect(await init([folder])).toBe(0);
    const { text, manifest } = await writtenManifest(folder);
    const block = text.slice(text.indexOf("\n# gates:\n") + 1);
    expect(block).toContain("#   bakeSeconds: 600");
    const uncommented = `${text.slice(0, text.indexOf("\n# gates:\n") + 1)}${block.replace(/^# /gm, "")}`;
    const parsed = parseManifest(uncommented, "modelship.yaml");
    expect(parsed.findings).toEqual([]);
    expect(parsed.manifest?.rollout?.steps).toEqual(DEFAULT_STACK_CONFIG.defaults.rollout.steps);
    const context = { name: "tiny", version: "v1" };
    expect(resolveManifest(parsed.manifest!, context, DEFAULT_STACK_CONFIG)).toEqual(
      resolveManifest(manifest, context, DEFAULT_STACK_CONFIG),
    );
  });

  it("refuses to overwrite a manifest without --force, and replaces it with --force", async () => {
    const folder = join(cli.root, "tiny");
    await writeTinyModelFolder(folder, "gguf");
    await writeFile(join(folder, "modelship.yaml"), "rollout: {bakeSeconds: 60}\n");
    expect(await init([folder])).toBe(1);
    expect(cli.stderr.join("\n")).toContain(`${join(folder, "modelship.yaml")} already exists`);
    expect(cli.stderr.join("\n")).toContain("--force");
    expect(await readFile(join(folder, "modelship.yaml"), "utf8")).toBe("rollout: {bakeSeconds: 60}\n");

    expect(await init([folder, "--force"])).toBe(0);
    expect((await writtenManifest(folder)).manifest.format).toBe("gguf");
  });

  it("refuses, even with --force, to write beside a manifest of another name", async () => {
    const folder = join(cli.root, "tiny");
    await writeTinyModelFolder(folder, "gguf");
    await writeFile(join(folder, "modelship.json"), "{}");
    expect(await init([folder, "--force"])).toBe(1);
    expect(cli.stderr.join("\n")).toContain("Remove or rename modelship.json first");
    await expect(stat(join(folder, "modelship.yaml"))).rejects.toThrow();
  });

  const unreadable: [string, (folder: string) => Promise<void>, string[]][] = [
    [
      "a folder that does not exist",
      async () => {},
      ["no such folder", "Give the folder that holds the model's weights"],
    ],
    [
      "a file instead of a folder",
      async (folder) => {
        await mkdir(dirname(folder), { recursive: true });
        await writeFile(folder, "not a folder");
      },
      ["is a file", "not one of its files"],
    ],
    [
      "a folder without weights",
      async (folder) => {
        await mkdir(folder, { recursive: true });
        await writeFile(join(folder, "README.md"), "# a model, some day");
      },
      ["holds no model weights", "safetensors", "GGUF"],
    ],
    [
      "a folder whose weights are damaged",
      async (folder) => {
        await writeTinyModelFolder(folder, "gguf");
        const gguf = await readFile(join(folder, "model.gguf"));
        await writeFile(join(folder, "model.gguf"), gguf.subarray(0, 64));
      },
      ["is not valid", "model.gguf", "no modelship.yaml was written", "modelship validate"],
    ],
  ];
  it.each(unreadable)("refuses %s, naming it and the fix, with no stack trace", async (_, make, expected) => {
    const folder = join(cli.root, "model");
    await make(folder);
    expect(await init([folder])).toBe(1);
    const printed = cli.stderr.join("\n");
    for (const text of expected) expect(printed).toContain(text);
    expect(printed).toContain("Hint:");
    expect(printed).not.toMatch(/\n\s+at /);
    await expect(stat(join(folder, "modelship.yaml"))).rejects.toThrow();
  });

  it("asks for the folder when none is given", async () => {
    expect(await init([])).toBe(2);
    expect(cli.stderr.join("\n")).toContain("Usage: modelship init <folder>");
  });
});

describe("modelship schema", () => {
  it("prints the manifest's JSON Schema", async () => {
    expect(await schemaCommand([])).toBe(0);
    expect(JSON.parse(cli.stdout.join("\n"))).toEqual(manifestJsonSchema());
  });

  it("writes it to --out", async () => {
    const out = join(cli.root, "modelship.schema.json");
    expect(await schemaCommand(["--out", out])).toBe(0);
    expect(await readFile(out, "utf8")).toBe(schemaText(manifestJsonSchema()));
  });

  it("says which file it could not write, and why", async () => {
    const out = join(cli.root, "missing", "schema.json");
    expect(await schemaCommand(["--out", out])).toBe(1);
    expect(cli.stderr.join("\n")).toContain(`could not write the schema to ${out}: ENOENT`);
    expect(cli.stderr.join("\n")).toContain("Create the folder first");
  });
});
