import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { LocalConfigInvalid, openLocalRuntime } from "../../lib/local/runtime";

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "modelship-runtime-"));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function servingConfig() {
  const runtime = await openLocalRuntime(home, { timeFactor: 0, gatewayPort: 0 });
  await runtime.close();
  return runtime.deps.config.serving;
}

describe("The local runtime's stack config", () => {
  it("polls a local candidate's readiness every second, on a startup budget of its own", async () => {
    expect(await servingConfig()).toMatchObject({
      readinessPollSeconds: 1,
      startupBaseSeconds: 300,
      startupSecondsPerGiB: 10,
      port: DEFAULT_STACK_CONFIG.serving.port,
    });
  });

  it("lets config.json override the local defaults, setting by setting", async () => {
    await writeFile(join(home, "config.json"), JSON.stringify({ serving: { readinessPollSeconds: 5 } }));

    expect(await servingConfig()).toMatchObject({ readinessPollSeconds: 5, startupBaseSeconds: 300 });
  });

  it("still reports a serving section that is not a mapping", async () => {
    await writeFile(join(home, "config.json"), JSON.stringify({ serving: 15 }));

    const failure = await openLocalRuntime(home, { timeFactor: 0, gatewayPort: 0 }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(LocalConfigInvalid);
    expect((failure as LocalConfigInvalid).findings.map((f) => f.path)).toContain("serving");
  });
});
