import { beforeEach, describe, expect, it } from "vitest";
import { GatewayFailed, Transient } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { registerGateway } from "../../lib/pipeline/register-gateway";
import { type CanaryWorld, canaryWorld, MODEL, rolloutThroughGates } from "../support/canary-world";

describe("RegisterGateway", () => {
  let world: CanaryWorld;
  let state: ExecutionState;
  beforeEach(async () => {
    world = canaryWorld();
    state = await rolloutThroughGates(world, "v1");
  });

  it("creates the model's route on a first release, with the candidate at 0%", async () => {
    const registration = await registerGateway(state, world);
    expect(await world.gateway.describe(MODEL)).toMatchObject({
      backends: [{ variant: "candidate", version: "v1", weight: 0, handle: { id: expect.any(String) } }],
    });
    expect(registration).toEqual({
      route: MODEL,
      registryId: world.registry.entry(MODEL, "v1")?.id,
      artifactUri: "s3://memory-bucket/models/llama/v1/",
    });
  });

  it("registers the version pending approval, with its weights, its reports and a line per gate", async () => {
    const stress = {
      summary: "TTFT p95 412 ms, TPOT p95 21 ms, 0.2% errors at 16 concurrent",
      reportKey: `reports/llama/v1/${state.rollout.id}/stress.json`,
      pageKey: `reports/llama/v1/${state.rollout.id}/report.html`,
    };
    await registerGateway({ ...state, stress }, world);
    const entry = world.registry.entry(MODEL, "v1");
    expect(entry?.status).toBe("PendingManualApproval");
    expect(entry?.entry).toEqual({
      model: MODEL,
      version: "v1",
      rolloutId: state.rollout.id,
      artifactUri: "s3://memory-bucket/models/llama/v1/",
      reportUris: {
        validation: `s3://memory-bucket/reports/llama/v1/${state.rollout.id}/validation.json`,
        stress: `s3://memory-bucket/reports/llama/v1/${state.rollout.id}/stress.json`,
        page: `s3://memory-bucket/reports/llama/v1/${state.rollout.id}/report.html`,
      },
      metadata: {
        rolloutId: state.rollout.id,
        executionId: state.rollout.executionId,
        validation:
          "8030261248 parameters (BF16), gguf, 17179869184 bytes of weights, 2 GPU(s), 0 warning(s)",
        smoke: "passed 2 checks, first token 41.5 ms, 88 tokens/s",
        stress: "TTFT p95 412 ms, TPOT p95 21 ms, 0.2% errors at 16 concurrent",
      },
    });
  });

  it("keeps every metadata value within the registry's 256 characters", async () => {
    await registerGateway({ ...state, eval: { suites: "x".repeat(1000) } }, world);
    const metadata = world.registry.entry(MODEL, "v1")?.entry.metadata ?? {};
    expect(metadata["eval"]).toHaveLength(256);
    expect(metadata["eval"]?.endsWith("…")).toBe(true);
  });

  it("records the candidate's workload, so a rollback from anywhere can reach it", async () => {
    await registerGateway(state, world);
    const handle = state.candidate?.["handle"];
    expect((await world.store.get(MODEL))?.candidate).toEqual({
      version: "v1",
      rolloutId: state.rollout.id,
      handle,
    });
  });

  it("fails as GatewayFailed, saying what could not be done and what to check", async () => {
    world.gateway.register = () =>
      Promise.reject(
        new Error('httproutes.gateway.networking.k8s.io "llama" is forbidden\nUser cannot create'),
      );
    const failure = await registerGateway(state, world).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(GatewayFailed);
    expect((failure as GatewayFailed).reason).toBe(
      'Could not add llama v1 to the model\'s route: httproutes.gateway.networking.k8s.io "llama" is forbidden',
    );
    expect((failure as GatewayFailed).hint).toMatch(/may edit it/);
    expect(world.registry.entry(MODEL, "v1")).toBeUndefined();
  });

  it("names a registry failure too", async () => {
    world.registry.register = () => Promise.reject(new Error("ValidationException: group name too long"));
    await expect(registerGateway(state, world)).rejects.toMatchObject({
      name: "GatewayFailed",
      reason: "Could not register llama v1 in the model registry: ValidationException: group name too long",
    });
  });

  it("lets a passing failure through as it is, for the state machine to retry", async () => {
    const throttled = new Transient("register failed with ThrottlingException: Rate exceeded");
    world.registry.register = () => Promise.reject(throttled);
    await expect(registerGateway(state, world)).rejects.toBe(throttled);
  });
});
