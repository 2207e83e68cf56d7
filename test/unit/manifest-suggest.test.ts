import { describe, expect, it } from "vitest";
import { suggestNearest } from "../../lib/core/suggest";

const ROLLOUT_KEYS = ["steps", "bakeSeconds", "watchSeconds", "alarms", "approval"];

describe("suggestNearest", () => {
  it("finds the key one letter away", () => {
    expect(suggestNearest("bakeSecond", ROLLOUT_KEYS)).toBe("bakeSeconds");
    expect(suggestNearest("stpes", ROLLOUT_KEYS)).toBe("steps");
  });

  it("counts two swapped neighbours as one typo", () => {
    expect(suggestNearest("apporval", ROLLOUT_KEYS)).toBe("approval");
    expect(suggestNearest("nmae", ["name", "version"])).toBe("name");
  });

  it("ignores case", () => {
    expect(suggestNearest("BakeSeconds", ROLLOUT_KEYS)).toBe("bakeSeconds");
  });

  it("prefers the closest candidate", () => {
    expect(suggestNearest("watchSecond", ROLLOUT_KEYS)).toBe("watchSeconds");
  });

  it("suggests nothing when no candidate is a plausible typo", () => {
    expect(suggestNearest("replicas", ROLLOUT_KEYS)).toBeUndefined();
    expect(suggestNearest("x", ["gpus"])).toBeUndefined();
    expect(suggestNearest("steps", [])).toBeUndefined();
  });
});
