// A home whose state files are not what modelship wrote — cut short, edited by hand, `null` — is refused at
// start, every bad file named at once with how to recover, as the modelship CLI prints it: exit 1, no stack
// trace, nothing started and nothing overwritten.

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli-process";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-home-state-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const BAD_FILES = {
  "rollouts.json": '{"format": "modelship-rollouts/1", "models": {"tiny": {"model": "tiny", "hist',
  "registry.json": "null",
  "gateway.json": JSON.stringify({ format: "modelship-gateway/1", routes: { tiny: 3 }, faults: {} }),
};

describe("A home with state files modelship did not write", () => {
  for (const command of [
    ["local", "--port", "0"],
    ["run", "<model folder>", "--local"],
  ]) {
    it(`is refused by modelship ${command[0]} with every bad file named and how to recover, and left as it was`, async () => {
      const home = await mkdtemp(join(work, "home-"));
      for (const [name, text] of Object.entries(BAD_FILES)) await writeFile(join(home, name), text);

      const folder = join(home, "..", `model-${home.split("-").at(-1)?.toLowerCase()}`);
      await mkdir(folder);
      await writeFile(join(folder, "modelship.yaml"), "rollout: {steps: [100]}\n");
      const cli = startCli([
        ...command.map((arg) => (arg === "<model folder>" ? folder : arg)),
        "--home",
        home,
      ]);
      const { code } = await cli.exited;
      const printed = cli.lines.join("\n");

      expect(code, printed).toBe(1);
      expect(printed).toContain(
        `✖ The local runtime's home ${home} has 3 files it cannot use; nothing was started.`,
      );
      expect(printed).toContain(`${join(home, "rollouts.json")} is not a modelship rollout store:`);
      expect(printed).toMatch(/it is not valid JSON \(.+\)/);
      expect(printed).toContain(`${join(home, "registry.json")} is not a modelship registry:`);
      expect(printed).toContain('expected "format": "modelship-registry/1"');
      expect(printed).toContain(`${join(home, "gateway.json")} is not a modelship gateway state:`);
      expect(printed).toContain(
        'routes.tiny: expected {"stable"?, "candidate"?, "previous"?, "weights", "stickiness"?, "mirror"?}',
      );
      expect(printed).toContain("Fix it, or move it away");
      expect(printed).not.toMatch(/\n\s+at .+:\d+:\d+/);
      for (const [name, text] of Object.entries(BAD_FILES)) {
        expect(await readFile(join(home, name), "utf8")).toBe(text);
      }
    }, 60_000);
  }
});
