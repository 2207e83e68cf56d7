import { describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { loadManifest } from "../../lib/core/resolution/manifest";
import { planRollout } from "../../lib/core/rollout/plan";
import type { ModelRecord } from "../../lib/core/rollout/rollout";

const KEY = { name: "llama", version: "v3", fileName: "modelship.yaml" };
/** Alarms that reach ALARM within 30 s (3 periods of 10 s). */
const ALARMS = "  alarms: {periodSeconds: 10, datapointsToAlarm: 3, evaluationPeriods: 3}\n";

function load(shadow: string, more = "") {
  return loadManifest(`rollout:\n  shadow: ${shadow}\n${ALARMS}${more}`, KEY, DEFAULT_STACK_CONFIG);
}

const STABLE: ModelRecord = { model: "llama", stableVersion: "v2", history: [] };

describe("rollout.shadow", () => {
  it("keeps the percent and the seconds", () => {
    expect(load("{percent: 20, seconds: 60}").manifest?.rollout.shadow).toEqual({ percent: 20, seconds: 60 });
  });

  it("lasts a bake (rollout.bakeSeconds) when it gives no seconds", () => {
    const { manifest } = load("{percent: 5}", "  bakeSeconds: 90\n");
    expect(manifest?.rollout.shadow).toEqual({ percent: 5, seconds: 90 });
  });

  it("is absent when the manifest sets none", () => {
    expect(loadManifest("", KEY, DEFAULT_STACK_CONFIG).manifest?.rollout).not.toHaveProperty("shadow");
  });

  it("refuses a percent outside 1–100 or not whole, naming the field", () => {
    for (const percent of ["0", "101", "12.5"]) {
      const { manifest, findings } = load(`{percent: ${percent}, seconds: 60}`);
      expect(manifest).toBeUndefined();
      expect(findings).toEqual([
        expect.objectContaining({ path: "rollout.shadow.percent", file: "modelship.yaml" }),
      ]);
    }
  });

  it("needs a percent, and refuses fields it does not know, naming them", () => {
    expect(load("{seconds: 60}").findings).toEqual([
      expect.objectContaining({ path: "rollout.shadow.percent" }),
    ]);
    expect(load("{percent: 10, seconds: 60, mirror: all}").findings).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/^rollout\.shadow/) }),
    ]);
  });

  it("refuses a shadow shorter than the alarms need to reach ALARM, as a bake would be", () => {
    const { manifest, findings } = load("{percent: 20, seconds: 20}");
    expect(manifest).toBeUndefined();
    expect(findings).toEqual([
      expect.objectContaining({
        code: "manifest.shadow-shorter-than-alarms",
        path: "rollout.shadow.seconds",
        message: expect.stringContaining("the shadow lasts 20 s, shorter than the 30 s the alarms need"),
        hint: expect.stringContaining("Shadow for at least 30 s"),
      }),
    ]);
  });

  it("goes on with a warning for a short shadow with allowShortBakes", () => {
    const { manifest, findings } = load("{percent: 20, seconds: 20}", "  allowShortBakes: true\n");
    expect(manifest?.rollout.shadow).toEqual({ percent: 20, seconds: 20 });
    expect(findings).toEqual([
      expect.objectContaining({ severity: "warning", path: "rollout.shadow.seconds" }),
    ]);
  });

  describe("in the plan", () => {
    it("runs before the first canary step when there is a stable to mirror", () => {
      const { manifest } = load("{percent: 20, seconds: 60}");
      const plan = planRollout(manifest as NonNullable<typeof manifest>, STABLE, DEFAULT_STACK_CONFIG);
      expect(plan.shadow).toEqual({ percent: 20, seconds: 60 });
      expect(plan).not.toHaveProperty("shadowSkipped");
    });

    it("runs before a blue/green switch", () => {
      const { manifest } = load("{percent: 100, seconds: 60}", "  strategy: blueGreen\n");
      const plan = planRollout(manifest as NonNullable<typeof manifest>, STABLE, DEFAULT_STACK_CONFIG);
      expect(plan.shadow).toEqual({ percent: 100, seconds: 60 });
      expect(plan.canarySteps).toEqual([]);
    });

    it("is skipped on a first release, saying why: there is no stable whose requests could be mirrored", () => {
      const { manifest } = load("{percent: 20, seconds: 60}");
      const plan = planRollout(manifest as NonNullable<typeof manifest>, undefined, DEFAULT_STACK_CONFIG);
      expect(plan).not.toHaveProperty("shadow");
      expect(plan.shadowSkipped).toBe(
        "The shadow (rollout.shadow) is skipped: v3 is the first release of llama, so there is no stable version whose requests could be mirrored to it. The shadow runs from the next version on.",
      );
    });
  });
});
