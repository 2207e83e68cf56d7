// `modelship run <folder> --local` on a generated model: the folder goes into the local bucket as a new
// version, the real pipeline runs with the local adapters, each state is printed, and a failure goes
// through Cleanup. Here the stack's serving command names a program that does not exist, so each rollout
// stops at DeployCandidate without starting a server (test/local/run-smoke.test.ts runs llama.cpp for real).

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/run";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { JsonFileRolloutStore } from "../../lib/local/json-rollout-store";
import { readEvents } from "../../lib/local/jsonl-events";
import { captureConsole } from "../support/console-capture";

let work: string;
let home: string;
let output: string[];

const MISSING_SERVER = "/nonexistent/modelship-test-server";

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-run-"));
  home = join(work, ".modelship");
  await mkdir(home);
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({ local: { command: `${MISSING_SERVER} {dir} --port {port}` } }),
  );
  output = captureConsole();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

/** A folder with a tiny llama GGUF, and a manifest when given. */
async function modelFolder(name: string, manifest?: string): Promise<string> {
  const folder = join(work, name);
  await mkdir(join(folder, ".git"), { recursive: true });
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf());
  await writeFile(join(folder, ".git", "HEAD"), "ref: refs/heads/main\n");
  if (manifest !== undefined) await writeFile(join(folder, "modelship.yaml"), manifest);
  return folder;
}

const servable = "name: tiny-llama\nversion: v1\nserving:\n  runtime: llama.cpp\n  maxModelLen: 256\n";

function printed(): string {
  return output.join("\n");
}

describe("modelship run --local", () => {
  it("copies the folder in as a new version, validates it, and goes through Cleanup when the candidate cannot start", async () => {
    const folder = await modelFolder("tiny", servable);

    const code = await run([folder, "--local", "--home", home, "--time-factor", "0"]);

    expect(code).toBe(1);
    const lines = output.filter((l) => /^[▶✔✖]/.test(l));
    expect(lines.slice(0, 9)).toEqual([
      "▶ Prepare",
      expect.stringMatching(/^✔ Prepare \d+\.\ds$/),
      "▶ Validate",
      expect.stringMatching(/^✔ Validate \d+\.\ds$/),
      "▶ CheckCapacity",
      expect.stringMatching(/^✔ CheckCapacity \d+\.\ds$/),
      "▶ DeployCandidate",
      expect.stringMatching(/^✖ DeployCandidate \d+\.\ds$/),
      "▶ Cleanup",
    ]);
    expect(printed()).toContain(
      `CandidateFailed: Could not start the server \`${MISSING_SERVER}\`: spawn ${MISSING_SERVER} ENOENT.`,
    );
    expect(printed()).toContain("✖ The rollout of tiny-llama v1 failed: CandidateFailed");

    const bucket = join(home, "bucket", "models", "tiny-llama", "v1");
    expect(await readFile(join(bucket, "modelship.yaml"), "utf8")).toBe(servable);
    expect((await readFile(join(bucket, "model.gguf"))).byteLength).toBe(buildTinyLlamaGguf().byteLength);
    await expect(readFile(join(bucket, ".git", "HEAD"))).rejects.toThrow();

    const events = await readEvents(join(home, "events.jsonl"));
    expect(events.map((e) => [e.detailType, e.detail.stage])).toEqual([
      ["Rollout Started", "Prepare"],
      ["Stage Failed", "Cleanup"],
    ]);
    expect(events[1]?.detail.error).toBe("CandidateFailed");
    for (const event of events)
      expect(event.detail.executionArn).toMatch(/^local:tiny-llama-v1-[0-9a-f]{8}$/);
    const record = await new JsonFileRolloutStore(join(home, "rollouts.json")).get("tiny-llama");
    expect(record?.lock).toBeUndefined();
    expect(record?.status).toBe("failed");
  });

  it("writes a default manifest for a folder without one, named after the folder, and serves the model at its own context", async () => {
    const folder = await modelFolder("tiny-llama");

    const code = await run([folder, "--local", "--home", home, "--version", "v7", "--time-factor", "0"]);

    expect(code).toBe(1);
    const manifest = await readFile(
      join(home, "bucket", "models", "tiny-llama", "v7", "modelship.yaml"),
      "utf8",
    );
    expect(manifest).toContain("name: tiny-llama\nversion: v7\n");
    // The default manifest sets no maxModelLen: the model's 256 tokens are chosen, not refused as the
    // stack's 8192 was; the rollout gets as far as this test's missing server.
    expect(printed()).toMatch(/✔ Validate /);
    expect(printed()).not.toContain("serving.maxModelLen is 8192");
    expect(printed()).toMatch(/✖ DeployCandidate .*\n {2}CandidateFailed: /);
  });

  it("uploads again a version that never served, replacing the earlier upload", async () => {
    const folder = await modelFolder("tiny", servable);
    await run([folder, "--local", "--home", home, "--time-factor", "0"]);
    output.length = 0;

    await run([folder, "--local", "--home", home, "--time-factor", "0"]);

    expect(printed()).toContain(
      "tiny-llama v1 was uploaded before and never served: this upload replaces it.",
    );
    expect(printed()).toMatch(/✖ DeployCandidate/);
  });

  it("refuses to overwrite a version that served, saying when it joined the route", async () => {
    const folder = await modelFolder("tiny", servable);
    await run([folder, "--local", "--home", home, "--time-factor", "0"]);
    await new JsonFileRolloutStore(join(home, "rollouts.json")).record("tiny-llama", {
      at: "2025-06-01T12:00:00.000Z",
      rolloutId: "tiny-llama-v1-0a1b2c3d",
      version: "v1",
      stage: "RegisterGateway",
      status: "running",
      reason: "tiny-llama v1 joined the model's route at 0%.",
    });
    output.length = 0;

    const code = await run([folder, "--local", "--home", home, "--time-factor", "0"]);

    expect(code).toBe(1);
    expect(printed()).toContain(
      "tiny-llama v1 is already in the local bucket (" +
        join(home, "bucket", "models", "tiny-llama", "v1") +
        ") and it joined the model's route at 2025-06-01T12:00:00.000Z (rollout tiny-llama-v1-0a1b2c3d).",
    );
    expect(printed()).toContain("Hint: Roll out a new version");
  });

  it("copies nothing from a folder holding links out of it, naming every one, and reads none of their bytes", async () => {
    const folder = await modelFolder("tiny", servable);
    const secret = join(work, "secret.txt");
    await writeFile(secret, "root:x:0:0:root:/root:/bin/bash\n");
    await symlink(secret, join(folder, "config.json"));
    await symlink(join(work, "nowhere"), join(folder, "tokenizer.json"));

    expect(await run([folder, "--local", "--home", home, "--time-factor", "0"])).toBe(1);

    expect(printed()).toContain(`✖ ${folder} holds 2 file(s) that are not copied:`);
    expect(printed()).toContain(
      `  config.json: A symbolic link to "${secret}" whose real path is outside ${folder}`,
    );
    expect(printed()).toContain(
      `  tokenizer.json: A symbolic link to "${join(work, "nowhere")}" that leads to no file`,
    );
    expect(printed()).toContain("Hint: Put the file itself in the folder instead of a link (`cp -L`).");
    expect(printed()).not.toContain("root:x");
    await expect(readdir(join(home, "bucket"))).rejects.toThrow();
  });

  it("refuses a manifest that is a link out of the folder, before copying anything", async () => {
    const folder = await modelFolder("tiny");
    const elsewhere = join(work, "elsewhere.yaml");
    await writeFile(elsewhere, servable);
    await symlink(elsewhere, join(folder, "modelship.yaml"));

    expect(await run([folder, "--local", "--home", home, "--time-factor", "0"])).toBe(1);

    expect(printed()).toContain(
      `✖ ${join(folder, "modelship.yaml")}: A symbolic link to "${elsewhere}" whose real path is outside ${folder}`,
    );
    await expect(readdir(join(home, "bucket"))).rejects.toThrow();
  });

  it("refuses a manifest with errors before copying anything, naming every finding", async () => {
    const folder = await modelFolder("tiny", `${servable}rollout:\n  bakeSecond: 30\n`);

    expect(await run([folder, "--local", "--home", home, "--time-factor", "0"])).toBe(1);
    expect(printed()).toContain("modelship.yaml has 1 error; nothing was copied into the local bucket.");
    expect(printed()).toContain("did you mean 'bakeSeconds'?");
    expect(existsSync(join(home, "bucket", "models", "tiny-llama"))).toBe(false);
  });

  it("says which name and version it rolls out and where each came from, and takes --name", async () => {
    const folder = await modelFolder("some-folder");

    await run([
      folder,
      "--local",
      "--home",
      home,
      "--name",
      "chosen",
      "--version",
      "v3",
      "--time-factor",
      "0",
    ]);
    expect(printed()).toContain("Rolling out chosen v3: the name from --name, the version from --version.");
    output.length = 0;
    await run([folder, "--local", "--home", home, "--time-factor", "0"]);
    expect(printed()).toMatch(
      /Rolling out some-folder local-\d{8}-\d{6}: the name from the folder's name \(pass --name to choose another\), the version from the time now/,
    );
  });

  it("refuses a --version that disagrees with the manifest", async () => {
    const folder = await modelFolder("tiny", servable);

    expect(await run([folder, "--local", "--home", home, "--version", "v2"])).toBe(1);
    expect(printed()).toContain("--version v2 disagrees with version: v1 in modelship.yaml");
  });

  it("refuses a folder name that cannot be a model name, saying where the name came from", async () => {
    const folder = await modelFolder("Tiny_Llama");

    expect(await run([folder, "--local", "--home", home])).toBe(1);
    expect(printed()).toContain("the name from the folder's name");
    expect(printed()).toContain("Hint: Set `name:`");
  });

  it.each([
    [["--local"], "give exactly one model folder"],
    [["model"], "add --local"],
    [["model", "--local", "--time-factor", "fast"], "--time-factor must be a number ≥ 0, got 'fast'"],
    [["no-such-folder", "--local"], "is not a folder"],
    [["model", "--local", "--fast"], "unknown flag --fast; the flags are"],
  ])("exits 2 on a usage error: %j", async (argv, message) => {
    await modelFolder("model", servable);

    expect(await run(argv.map((a) => (a === "model" || a === "no-such-folder" ? join(work, a) : a)))).toBe(2);
    expect(printed()).toContain(message);
    expect(printed()).toContain("Usage: modelship run <folder> --local");
  });
});
