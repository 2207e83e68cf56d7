import { describe, expect, it } from "vitest";
import {
  isStickiness,
  stickyKey,
  stickyPoint,
  stickyVariant,
  unusableStickinessHeader,
} from "../../lib/core/traffic/sticky-routing";

const KEYS = Array.from({ length: 20_000 }, (_, i) => `session-${i}`);
const WEIGHTS = [0, 1, 5, 10, 25, 50, 75, 90, 99, 100];

const POINTS = new Map<string, readonly number[]>();

/** Where each key goes while the candidate `version` has `weight` percent (each key hashed once per version). */
function variantsAt(weight: number, version = "v2"): ("stable" | "candidate")[] {
  let points = POINTS.get(version);
  if (!points) {
    points = KEYS.map((key) => stickyPoint("llama", version, key));
    POINTS.set(version, points);
  }
  return points.map((point) => stickyVariant(point, weight));
}

describe("stickyPoint and stickyVariant", () => {
  it("only ever moves keys from stable to candidate as the candidate's weight rises", () => {
    for (let i = 1; i < WEIGHTS.length; i++) {
      const before = variantsAt(WEIGHTS[i - 1] as number);
      const after = variantsAt(WEIGHTS[i] as number);
      const movedBack = KEYS.filter((_, k) => before[k] === "candidate" && after[k] === "stable");
      expect(movedBack, `${WEIGHTS[i - 1]}% → ${WEIGHTS[i]}%`).toEqual([]);
    }
  });

  it("puts about the candidate's weight in percent of the keys on the candidate", () => {
    for (const weight of WEIGHTS) {
      const share = (variantsAt(weight).filter((v) => v === "candidate").length / KEYS.length) * 100;
      // 20,000 keys: the binomial's standard deviation is at most 0.36 points; 1.5 points is > 4 of them.
      expect(Math.abs(share - weight), `at ${weight}%`).toBeLessThan(1.5);
    }
  });

  it("sends no key to a candidate at 0% and every key to one at 100%", () => {
    expect(variantsAt(0).every((v) => v === "stable")).toBe(true);
    expect(variantsAt(100).every((v) => v === "candidate")).toBe(true);
  });

  it("gives the same key the same point every time, in [0, 100)", () => {
    const points = KEYS.slice(0, 100).map((key) => stickyPoint("llama", "v2", key));
    expect(KEYS.slice(0, 100).map((key) => stickyPoint("llama", "v2", key))).toEqual(points);
    expect(points.every((p) => p >= 0 && p < 100)).toBe(true);
  });

  it("draws another cohort for another candidate version, so the same users are not always the canary", () => {
    const v2 = variantsAt(25, "v2");
    const v3 = variantsAt(25, "v3");
    const both = KEYS.filter((_, k) => v2[k] === "candidate" && v3[k] === "candidate").length;
    // Independent cohorts of 25% overlap in about 6.25% of the keys, not 25%.
    expect((both / KEYS.length) * 100).toBeLessThan(8);
    expect((both / KEYS.length) * 100).toBeGreaterThan(4.5);
  });
});

describe("stickyKey", () => {
  it("reads the header case-insensitively, as Node gives headers (lowercased)", () => {
    expect(stickyKey({ header: "X-Session-Id" }, { "x-session-id": "abc" })).toBe("abc");
  });

  it("joins a repeated header as Node would, so the same repeats give the same key", () => {
    expect(stickyKey({ header: "x-session-id" }, { "x-session-id": ["a", "b"] })).toBe("a, b");
  });

  it("has no key for a missing or blank header", () => {
    expect(stickyKey({ header: "x-session-id" }, {})).toBeUndefined();
    expect(stickyKey({ header: "x-session-id" }, { "x-session-id": "  " })).toBeUndefined();
  });

  it("finds the named cookie among others, case-sensitively, without its quotes", () => {
    const headers = { cookie: 'theme=dark; Chat="c-42"; chat=lower' };
    expect(stickyKey({ cookie: "Chat" }, headers)).toBe("c-42");
    expect(stickyKey({ cookie: "chat" }, headers)).toBe("lower");
    expect(stickyKey({ cookie: "session" }, headers)).toBeUndefined();
    expect(stickyKey({ cookie: "session" }, {})).toBeUndefined();
  });
});

describe("unusableStickinessHeader", () => {
  it("refuses modelship's own headers, the variant header above all", () => {
    expect(unusableStickinessHeader("x-modelship-variant", "x-model-id")).toContain("x-modelship-variant");
    expect(unusableStickinessHeader("X-Modelship-Version", "x-model-id")).toContain("modelship uses");
  });

  it("refuses the header the gateway routes models by: every request of the model has the same value", () => {
    expect(unusableStickinessHeader("X-Model-Id", "x-model-id")).toContain("gateway.modelHeader");
  });

  it("refuses headers that frame or route the request, and sends cookie users to the cookie setting", () => {
    expect(unusableStickinessHeader("Host", "")).toContain("same for every request");
    expect(unusableStickinessHeader("cookie", "")).toContain("stickiness: {cookie: <name>}");
    expect(unusableStickinessHeader("content-length", "")).toBeDefined();
  });

  it("accepts a session header", () => {
    expect(unusableStickinessHeader("x-session-id", "x-model-id")).toBeUndefined();
  });
});

describe("isStickiness", () => {
  it("takes exactly one of header and cookie with a valid name", () => {
    expect(isStickiness({ header: "x-session-id" })).toBe(true);
    expect(isStickiness({ cookie: "chat" })).toBe(true);
    expect(isStickiness({ header: "x-session-id", cookie: "chat" })).toBe(false);
    expect(isStickiness({ header: "bad name" })).toBe(false);
    expect(isStickiness({ header: 7 })).toBe(false);
    expect(isStickiness(["header"])).toBe(false);
  });
});
