import { describe, expect, it } from "vitest";
import { formatModelStatus, formatRoute } from "../../lib/cli/status-report";
import type { ModelRecord } from "../../lib/core/rollout/rollout";
import type { RouteState } from "../../lib/ports";

const ROLLOUT = "llama-v3-4e5f6a7b";
const RECORD: ModelRecord = {
  model: "llama",
  stableVersion: "v2",
  candidateVersion: "v3",
  weights: { stable: 100, candidate: 0 },
  lock: { rolloutId: ROLLOUT, version: "v3", since: "2025-06-01T09:30:00.000Z" },
  shadow: { rolloutId: ROLLOUT, version: "v3", percent: 20, seconds: 60, since: "2025-06-01T09:40:00.000Z" },
  history: [],
};

describe("status of a shadow", () => {
  it("says in one line what share of the stable's requests is copied to which version, and how far in", () => {
    const text = formatModelStatus({ record: RECORD, alarms: [], now: new Date("2025-06-01T09:40:14.500Z") });
    expect(text.split("\n")[0]).toBe("llama  running: v3 in its shadow (no user sees its answers yet)");
    expect(text).toContain(
      "  shadow     shadowing 20% of stable's requests to v3 for 60 s, 14 s in: every user is answered by stable, the copies' answers are thrown away",
    );
  });

  it("shows no shadow once the rollout holding the model is another one", () => {
    const other = {
      ...RECORD,
      lock: { rolloutId: "llama-v4-00000000", version: "v4", since: "2025-06-01T10:00:00Z" },
    };
    expect(formatModelStatus({ record: other, alarms: [] })).not.toContain("shadow");
  });

  it("shows the gateway's mirror on its route line, as the gateway itself reports it", () => {
    const handle = (version: string) => ({
      id: `local-llama-${version}`,
      model: "llama",
      version,
      rolloutId: `llama-${version}-00000000`,
      servedName: "llama",
      deployedAt: "2025-06-01T09:00:00.000Z",
    });
    const route: RouteState = {
      model: "llama",
      backends: [
        { variant: "stable", version: "v2", weight: 100, handle: handle("v2") },
        { variant: "candidate", version: "v3", weight: 0, handle: handle("v3") },
      ],
      mirror: { version: "v3", percent: 20 },
    };
    expect(formatRoute(route, {})).toEqual([
      "  gateway   stable v2 100%, candidate v3 0%; mirroring 20% of stable's requests to v3",
    ]);
    const { mirror: _mirror, ...unmirrored } = route;
    expect(formatRoute(unmirrored, {})).toEqual(["  gateway   stable v2 100%, candidate v3 0%"]);
  });
});
