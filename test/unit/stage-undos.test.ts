import { describe, expect, it } from "vitest";
import type { CandidateHandle } from "../../lib/core/candidate";
import { mirrorUndo } from "../../lib/pipeline/stage-undos";
import { MemoryGateway } from "../support/memory-gateway";

const handle = (version: string): CandidateHandle => ({
  id: `llama-${version}`,
  model: "llama",
  version,
  rolloutId: `llama-${version}-r`,
  servedName: "llama",
  deployedAt: "2026-12-07T00:00:00.000Z",
});

/** llama: v1 the stable at 100%, `candidate` registered at 0% and mirrored 20%. */
async function shadowing(candidate: string): Promise<MemoryGateway> {
  const gateway = new MemoryGateway();
  await gateway.register("llama", handle("v1"));
  await gateway.promote("llama", "v1");
  await gateway.register("llama", handle(candidate));
  await gateway.mirror("llama", { version: candidate, percent: 20 });
  return gateway;
}

describe("mirrorUndo", () => {
  it("takes off the mirror its own stage put on the route", async () => {
    const gateway = await shadowing("v2");

    await mirrorUndo(gateway, "llama", "v2").run();

    expect((await gateway.describe("llama"))?.mirror).toBeUndefined();
  });

  it("leaves a mirror to another version alone: a later rollout's shadow owns it", async () => {
    const gateway = await shadowing("v3");

    await mirrorUndo(gateway, "llama", "v2").run();

    expect((await gateway.describe("llama"))?.mirror).toEqual({ version: "v3", percent: 20 });
  });

  it("does nothing when the model has no route (a rollback removed it)", async () => {
    const gateway = new MemoryGateway();

    await mirrorUndo(gateway, "llama", "v2").run();

    expect(gateway.changes).toEqual([]);
  });
});
