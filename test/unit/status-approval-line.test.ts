// The approval line of `modelship status`: what waits, since and until when, and the command that answers it
// as the user must type it on this runtime (`--local` for a local home, which a bare command would not reach).

import { describe, expect, it } from "vitest";
import { formatModelStatus } from "../../lib/cli/status-report";
import type { ModelRecord } from "../../lib/core/rollout/rollout";

const waiting: ModelRecord = {
  model: "tiny",
  lock: { rolloutId: "tiny-v6-0a1b2c3d", version: "v6", since: "2026-12-07T15:11:40.000Z" },
  approval: {
    rolloutId: "tiny-v6-0a1b2c3d",
    version: "v6",
    token: "(hidden)",
    at: "beforePromote",
    since: "2026-12-07T15:11:51.143Z",
    expiresAt: "2026-12-08T15:11:51.143Z",
  },
  history: [],
} as unknown as ModelRecord;

describe("modelship status's approval line", () => {
  it("names the command that answers the wait on AWS", () => {
    expect(formatModelStatus({ record: waiting, alarms: [] })).toMatch(
      /^ {2}approval {2}v6 waits before its promotion since 2026-12-07T15:11:51\.143Z, until 2026-12-08T15:11:51\.143Z: modelship approve\|reject tiny$/m,
    );
  });

  it("adds --local for a local home, where the command without it would look for AWS", () => {
    expect(formatModelStatus({ record: waiting, alarms: [] }, " --local")).toMatch(
      /: modelship approve\|reject tiny --local$/m,
    );
  });
});
