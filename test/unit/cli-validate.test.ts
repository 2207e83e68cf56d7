import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/validate";
import {
  buildSafetensorsModel,
  type ModelFiles,
  writeModelFiles,
} from "../../lib/examples/safetensors-model";
import { startCli } from "../support/cli-process";
import { truncate } from "../support/model-mutations";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { cliTestBench } from "../support/cli-test-bench";

const cli = cliTestBench("cli-validate");

async function folderWith(files: ModelFiles, name = "Tiny-Llama"): Promise<string> {
  const dir = join(cli.root, name);
  await writeModelFiles(dir, files);
  return dir;
}

describe("modelship validate", () => {
  it("exits 0 and prints the summary and GPU plan for a valid folder", async () => {
    const dir = await folderWith(buildSafetensorsModel());
    expect(await run([dir])).toBe(0);
    const out = cli.stdout.join("\n");
    expect(out).toContain("tiny-llama (");
    expect(out).toContain("✓ valid: 0 errors, 0 warnings");
    expect(out).toContain("107,328 parameters (BF16 100%)");
    expect(out).toContain("GPU plan: 1 × 80 GiB GPU");
    expect(out).toMatch(/read .* in 4 requests/);
    // Sizes in binary units everywhere (the GPU plan's GiB, the report's KiB), never a decimal KB beside them.
    expect(out).toMatch(/· 211\.7 KiB of weights in 1 file/);
    expect(out).not.toMatch(/\d KB/);
  });

  it("prints {valid, parameters, findings, bytesRead, requests, gpu} with --json", async () => {
    const dir = await folderWith(buildSafetensorsModel({ shards: 2 }));
    expect(await run([dir, "--json", "--gpu-memory", "24"])).toBe(0);
    const report = JSON.parse(cli.stdout.join("\n")) as Record<string, unknown>;
    expect(Object.keys(report).slice(0, 6)).toEqual([
      "valid",
      "parameters",
      "findings",
      "bytesRead",
      "requests",
      "gpu",
    ]);
    expect(report).toMatchObject({ valid: true, parameters: 107_328, findings: [], requests: 6 });
    expect(report["gpu"]).toMatchObject({ gpus: 1, gpuMemoryGiB: 24, fits: true });
  });

  it("exits 1 and lists every error with its file, tensor and hint", async () => {
    const files = buildSafetensorsModel();
    files.set("model.safetensors", truncate(files.get("model.safetensors")!, 64));
    files.delete("tokenizer.json");
    const dir = await folderWith(files);
    expect(await run([dir])).toBe(1);
    const out = cli.stdout.join("\n");
    expect(out).toContain("✗ not valid: 2 errors, 0 warnings");
    expect(out).toContain("Errors (2)");
    expect(out).toContain("model.safetensors tensor 'model.norm.weight': `data_offsets`");
    expect(out).toContain("No tokenizer");
    expect(out).toContain("    hint: ");
  });

  it("checks the folder's modelship.yaml and reports its findings with the model's", async () => {
    const files = buildSafetensorsModel();
    files.set("modelship.yaml", new TextEncoder().encode("servng:\n  maxModelLen: 1024\n"));
    const dir = await folderWith(files);
    expect(await run([dir, "--json"])).toBe(1);
    const report = JSON.parse(cli.stdout.join("\n")) as {
      findings: { code: string; file?: string; hint?: string }[];
    };
    const manifest = report.findings.find((f) => f.file === "modelship.yaml");
    expect(manifest?.code).toMatch(/^manifest\./);
    expect(JSON.stringify(manifest)).toContain("serving");
  });

  it("applies the manifest's serving settings to the checks", async () => {
    const files = buildSafetensorsModel();
    files.set("modelship.yaml", new TextEncoder().encode("serving:\n  maxModelLen: 65536\n"));
    expect(await run([await folderWith(files), "--json"])).toBe(1);
    const report = JSON.parse(cli.stdout.join("\n")) as { findings: { code: string }[] };
    expect(report.findings.map((f) => f.code)).toEqual(["serving.max-model-len"]);
  });

  describe("plans from what the user wrote, and from the weights where they wrote nothing (issue 11, items 1 and 2)", () => {
    const ggufFolder = async (manifest?: string): Promise<string> => {
      const files: ModelFiles = new Map([["model.gguf", buildTinyLlamaGguf()]]);
      if (manifest !== undefined) files.set("modelship.yaml", new TextEncoder().encode(manifest));
      return folderWith(files, "tiny-gguf");
    };
    const shortContext = (): ModelFiles => {
      const files = buildSafetensorsModel();
      const config = JSON.parse(new TextDecoder().decode(files.get("config.json"))) as object;
      const edited = { ...config, max_position_embeddings: 512 };
      files.set("config.json", new TextEncoder().encode(JSON.stringify(edited)));
      return files;
    };

    it("keeps every valid field of a manifest with a typo: the context, runtime and CPU plan stay the user's", async () => {
      const dir = await ggufFolder(
        "format: gguf\nserving:\n  runtime: llama.cpp\n  maxModelLen: 256\nrollout:\n  bakeSecond: 30\n",
      );
      expect(await run([dir])).toBe(1);
      const out = cli.stdout.join("\n");
      expect(out).toContain("did you mean 'bakeSeconds'");
      expect(out).toContain("✗ not valid: 1 error, 0 warnings");
      expect(out).not.toContain("maxModelLen is 8192");
      expect(out).toContain("Serving: llama.cpp (ghcr.io/ggml-org/llama.cpp:server), context 256 tokens");
      expect(out).toContain("GPU plan: CPU (0 GPUs)");
      expect(out).not.toContain("stack's defaults");
    });

    it("says the plan uses the stack's defaults when the manifest cannot be read at all", async () => {
      const dir = await ggufFolder("format: [gguf\n");
      expect(await run([dir, "--json"])).toBe(1);
      const report = JSON.parse(cli.stdout.join("\n")) as { findings: { code: string; severity: string }[] };
      expect(report.findings.map((f) => f.code)).toEqual(["manifest.yaml-syntax", "manifest.defaults-used"]);
    });

    it("serves a safetensors model without a manifest at its own context, with no error the user never wrote", async () => {
      expect(await run([await folderWith(shortContext()), "--json"])).toBe(0);
      const report = JSON.parse(cli.stdout.join("\n")) as {
        findings: unknown[];
        serving: { runtime: string; maxModelLen: number; from: object; notes: string[] };
      };
      expect(report.findings).toEqual([]);
      expect(report.serving).toMatchObject({
        runtime: "vllm",
        maxModelLen: 512,
        from: { runtime: "weights", maxModelLen: "weights", image: "stack" },
      });
      expect(report.serving.notes.join(" ")).toContain("the model's own context");
    });

    it("serves a bare GGUF with llama.cpp at the context its header gives", async () => {
      expect(await run([await ggufFolder()])).toBe(0);
      const out = cli.stdout.join("\n");
      expect(out).toContain("✓ valid: 0 errors, 0 warnings");
      expect(out).toContain("Serving: llama.cpp (ghcr.io/ggml-org/llama.cpp:server), context 256 tokens");
      expect(out).toContain("runtime llama.cpp: serves GGUF weights (the manifest sets no serving.runtime).");
      expect(out).toContain("GPU plan: CPU (0 GPUs)");
    });

    it("still refuses a context the user wrote beyond the model's, pointing at the manifest", async () => {
      const files = shortContext();
      files.set("modelship.yaml", new TextEncoder().encode("serving:\n  maxModelLen: 1024\n"));
      expect(await run([await folderWith(files), "--json"])).toBe(1);
      const report = JSON.parse(cli.stdout.join("\n")) as { findings: { code: string; hint: string }[] };
      expect(report.findings).toEqual([
        expect.objectContaining({
          code: "serving.max-model-len",
          hint: expect.stringContaining("in the manifest"),
        }),
      ]);
    });
  });

  it("validates an S3 prefix, naming the model and version from its key", async () => {
    vi.stubEnv("AWS_REGION", "eu-west-1");
    const s3 = mockClient(S3Client);
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    s3.on(HeadObjectCommand).rejects(Object.assign(new Error("Not Found"), { name: "NotFound" }));
    try {
      expect(await run(["s3://models-bucket/models/llama-3-8b/v3", "--json"])).toBe(1);
      const report = JSON.parse(cli.stdout.join("\n")) as Record<string, unknown>;
      expect(report).toMatchObject({
        location: "s3://models-bucket/models/llama-3-8b/v3/",
        model: "llama-3-8b",
      });
      expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input.Prefix).toBe("models/llama-3-8b/v3/");
    } finally {
      s3.restore();
      vi.unstubAllEnvs();
    }
  });

  it("says it could not read a prefix only when the store failed, and lets a bug of its own surface as one", async () => {
    vi.stubEnv("AWS_REGION", "eu-west-1");
    const s3 = mockClient(S3Client);
    try {
      s3.on(ListObjectsV2Command).rejects(
        Object.assign(new Error("Access Denied"), {
          name: "AccessDenied",
          $metadata: { httpStatusCode: 403 },
        }),
      );
      s3.on(HeadObjectCommand).rejects(Object.assign(new Error("Not Found"), { name: "NotFound" }));
      expect(await run(["s3://models-bucket/models/llama-3-8b/v3"])).toBe(2);
      expect(cli.stderr.join("\n")).toContain(
        "modelship validate: could not read s3://models-bucket/models/llama-3-8b/v3/: ",
      );

      // A listing the adapter cannot make sense of is not the prefix's fault: not worded as if it were.
      s3.reset();
      s3.on(HeadObjectCommand).rejects(Object.assign(new Error("Not Found"), { name: "NotFound" }));
      s3.on(ListObjectsV2Command).callsFake(() => {
        throw new TypeError("Cannot read properties of undefined (reading 'Contents')");
      });
      await expect(run(["s3://models-bucket/models/llama-3-8b/v3"])).rejects.toThrow(TypeError);
    } finally {
      s3.restore();
      vi.unstubAllEnvs();
    }
  });

  it("exits 1 naming the line of a YAML tag in the manifest, where it crashed with a TypeError", async () => {
    const files = buildSafetensorsModel();
    files.set("modelship.yaml", new TextEncoder().encode("name: tiny-llama\nserving: !!binary aGVsbG8=\n"));
    expect(await run([await folderWith(files)])).toBe(1);
    expect(cli.stdout.join("\n")).toContain(
      "modelship.yaml at serving: the tag !!binary on line 2 asks for a value that is not plain YAML",
    );
  });

  it("does not read a manifest bigger than a manifest can be, and says so", async () => {
    const files = buildSafetensorsModel();
    files.set("modelship.yaml", new TextEncoder().encode(`# ${"x".repeat(200_000)}\nname: tiny-llama\n`));
    expect(await run([await folderWith(files)])).toBe(1);
    expect(cli.stdout.join("\n")).toContain(
      "modelship.yaml: the manifest is 200020 bytes; a manifest is at most 131072 bytes.",
    );
  });

  describe("links in the folder", () => {
    const SECRET = "root:x:0:0:root:/root:/bin/bash\n";

    it("names a config.json linked out of the folder and prints none of the target's bytes", async () => {
      const files = buildSafetensorsModel();
      files.delete("config.json");
      const dir = await folderWith(files);
      const secret = join(cli.root, "passwd");
      await writeFile(secret, SECRET);
      await symlink(secret, join(dir, "config.json"));

      expect(await run([dir])).toBe(1);

      const out = cli.stdout.join("\n");
      expect(out).toContain(`config.json: A symbolic link to "${secret}" whose real path is outside ${dir}`);
      expect(out).not.toContain("root:x");
      expect(out).not.toContain("Unexpected token");
      expect(out).not.toContain("The folder has no config.json");
    });

    it("names a weight file linked out of the folder instead of printing the target's first 8 bytes as a length", async () => {
      const dir = await folderWith(buildSafetensorsModel());
      const secret = join(cli.root, "shadow");
      await writeFile(secret, SECRET);
      await symlink(secret, join(dir, "extra.safetensors"));

      expect(await run([dir, "--json"])).toBe(1);

      const report = JSON.parse(cli.stdout.join("\n")) as { findings: { code: string; file?: string }[] };
      expect(report.findings.filter((f) => f.file === "extra.safetensors").map((f) => f.code)).toEqual([
        "model.file.link-outside",
      ]);
      expect(cli.stdout.join("\n")).not.toMatch(/length prefix|root:x/);
    });

    it("reads a link whose real path stays inside the folder like the file it names", async () => {
      const files = buildSafetensorsModel();
      const weights = files.get("model.safetensors")!;
      files.delete("model.safetensors");
      const dir = await folderWith(files);
      await mkdir(join(dir, "blobs"));
      await writeFile(join(dir, "blobs", "weights"), weights);
      await symlink("blobs/weights", join(dir, "model.safetensors"));

      expect(await run([dir])).toBe(0);
      expect(cli.stdout.join("\n")).toContain("107,328 parameters");
    });
  });

  it.each([
    ["no target", [], /give the folder or s3:\/\/ prefix/],
    ["two targets", ["a", "b"], /exactly one/],
    ["an unknown option", ["x", "--jsn"], /unknown flag --jsn: did you mean --json\?/],
    ["a bad --gpu-memory", ["x", "--gpu-memory", "lots"], /--gpu-memory takes the GiB/],
    ["a malformed S3 URI", ["s3:/bucket"], /not an S3 URI/],
  ])("exits 2 with usage for %s", async (_, args, message) => {
    expect(await run(args)).toBe(2);
    expect(cli.stderr.join("\n")).toMatch(message);
    expect(cli.stderr.join("\n")).toContain("Usage: modelship validate");
  });

  it("exits 2 naming a folder that does not exist", async () => {
    const missing = join(cli.root, "nope");
    expect(await run([missing])).toBe(2);
    expect(cli.stderr.join("\n")).toContain(`no such folder: ${missing}`);
  });

  it("exits 2 when given a file instead of a folder", async () => {
    const file = join(cli.root, "model.safetensors");
    await writeFile(file, "x");
    expect(await run([file])).toBe(2);
    expect(cli.stderr.join("\n")).toContain("is a file; give the folder");
  });
});

describe("modelship validate, run as a process in a terminal", () => {
  it("prints file names holding a newline or an escape sequence as escapes, so a name cannot forge a line or drive the terminal", async () => {
    const files = buildSafetensorsModel();
    files.set("notes\n✓ valid: 0 errors, 0 warnings", new Uint8Array(1));
    files.set("\u001b]0;pwned\u0007\u001b[2Jweights.bin", new Uint8Array(1));
    files.set("model\u202egnp.safetensors.json", new Uint8Array(1));
    const dir = await folderWith(files);

    const cli = startCli(["validate", dir]);
    const { code } = await cli.exited;
    const out = cli.lines.join("\n");

    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(cli.lines.filter((line) => line.startsWith("✓ valid"))).toEqual(["✓ valid: 0 errors, 1 warning"]);
    expect(out).toContain("notes\\n✓ valid: 0 errors, 0 warnings: Not a file serving uses");
    expect(out).toContain("\\x1b]0;pwned\\x07\\x1b[2Jweights.bin: A pickle file");
    expect(out).toContain("model\\u202egnp.safetensors.json: Not a file serving uses");
  });
});
