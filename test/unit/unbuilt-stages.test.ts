import { describe, expect, it } from "vitest";
import { NotImplementedYet } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout";
import type { StageDeps } from "../../lib/pipeline/deps";
import { mergeStress, stressWorker } from "../../lib/pipeline/unbuilt-stages";

const state = {} as ExecutionState;
const deps = {} as StageDeps;

describe("stages not built yet", () => {
  it("fail as NotImplementedYet, naming the stage and the missing capability", async () => {
    const failure = await mergeStress(state, deps).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NotImplementedYet);
    expect((failure as NotImplementedYet).name).toBe("NotImplementedYet");
    expect((failure as NotImplementedYet).reason).toMatch(/^MergeStress is not built yet: the stress gate/);
  });

  it("tell the user how to skip a gate that is not built", async () => {
    const cases: [Promise<never>, string][] = [
      [mergeStress(state, deps), "gates.stress.enabled: false"],
      [stressWorker({} as never, deps), "gates.stress.enabled: false"],
    ];
    for (const [pending, hint] of cases) {
      const failure = (await pending.catch((e: unknown) => e)) as NotImplementedYet;
      expect(failure.hint).toContain(hint);
      expect(failure.message).toContain(`Hint: Set ${hint}`);
    }
  });
});
