// `modelship status` while a rollout waits for capacity (lib/pipeline/capacity-wait.ts): the headline says so,
// a capacity row gives the reason CheckCapacity recorded when the wait began, and both go once the wait ends.
// The local runtime's replicas line names replicas pending for a server slot.

import { describe, expect, it } from "vitest";
import { formatModelStatus, formatReplicas } from "../../lib/cli/status-report";
import type { ModelRecord, Transition } from "../../lib/core/rollout/rollout";

const REASON =
  "Waiting for capacity before deploying llama v3: The rollout needs 4 more nvidia.com/gpu; 2 are free on 1 ready node. The plan: surge canary beside v2's 2 replicas: at most 4 replicas at once. Waiting since 2026-12-07T15:00:00.000Z, until 2026-12-07T15:15:00.000Z (rollout.capacityWaitSeconds: 900); then InsufficientCapacity.";

function record(...history: Transition[]): ModelRecord {
  return {
    model: "llama",
    lock: { rolloutId: "llama-v3-0a1b2c3d", version: "v3", since: "2026-12-07T14:59:00.000Z" },
    history,
  } as unknown as ModelRecord;
}

const started: Transition = {
  at: "2026-12-07T15:00:00.000Z",
  rolloutId: "llama-v3-0a1b2c3d",
  version: "v3",
  stage: "CheckCapacity",
  status: "running",
  reason: REASON,
};

describe("modelship status during a wait for capacity", () => {
  it("says the rollout waits for capacity, and why", () => {
    const text = formatModelStatus({ record: record(started), alarms: [] });

    expect(text.split("\n")[0]).toBe("llama  running: v3 waiting for capacity (nothing deployed yet)");
    expect(text).toContain(`  capacity  ${REASON}`);
  });

  it("shows no wait once it ended with enough capacity", () => {
    const ended: Transition = {
      ...started,
      at: "2026-12-07T15:03:00.000Z",
      reason: "llama v3 has the capacity it waited 3 min for: … Deploying it now.",
    };
    const text = formatModelStatus({ record: record(started, ended), alarms: [] });

    expect(text).not.toContain("waiting for capacity");
    expect(text).not.toMatch(/^ {2}capacity/m);
  });

  it("shows a local version's replicas waiting for a server slot", () => {
    expect(
      formatReplicas([
        {
          version: "v1",
          desired: 2,
          ready: 1,
          pending: { count: 1, reason: "local.maxServers (2) is reached: 2 server processes run." },
          pids: [101],
        },
      ]),
    ).toEqual([
      "  replicas  v1 1/2 ready, 1 pending: local.maxServers (2) is reached: 2 server processes run.",
    ]);
  });
});
