import { describe, expect, it } from "vitest";
import { formatReplicas } from "../../lib/cli/status-report";

describe("modelship status --local: a version's crashed replicas", () => {
  it("says how many crashed, how the last ended and when its replacement starts", () => {
    expect(
      formatReplicas([
        {
          version: "v1",
          desired: 2,
          ready: 1,
          pids: [101],
          restarts: {
            crashes: 2,
            lastExit: "killed by SIGKILL",
            backoffSeconds: 20,
            replacementAt: "2026-12-07T15:00:20.000Z",
          },
        },
      ]),
    ).toEqual([
      "  replicas  v1 1/2 ready",
      "            restarts  2 crashes (last: killed by SIGKILL); replacement at 2026-12-07T15:00:20.000Z (back-off 20 s)",
    ]);
  });

  it("says the crashed replica was replaced once its replacement started", () => {
    expect(
      formatReplicas([
        {
          version: "v1",
          desired: 2,
          ready: 2,
          pids: [101, 102],
          restarts: { crashes: 1, lastExit: "exit code 3", backoffSeconds: 10 },
        },
      ])[1],
    ).toBe("            restarts  1 crash (last: exit code 3); replaced");
  });
});
