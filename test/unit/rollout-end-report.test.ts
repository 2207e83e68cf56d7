import { beforeEach, describe, expect, it, vi } from "vitest";
import { SloViolated } from "../../lib/core/errors";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { cleanup } from "../../lib/pipeline/cleanup";
import { handleCommand } from "../../lib/pipeline/commands";
import { rollback } from "../../lib/pipeline/rollback";
import {
  CANARY_FLOW as flow,
  type CanaryWorld,
  canaryVerdict,
  canaryWorld,
  MODEL,
  rolloutThroughGates,
} from "../support/canary-world";
import {
  countElements,
  elementById,
  structureProblems,
  tableRecords,
  visibleText,
} from "../support/html-page";

/** A table's rows with each cell as its reader sees it. */
function textRecords(page: string, caption: string): Record<string, string>[] {
  return tableRecords(page, caption).map((row) =>
    Object.fromEntries(Object.entries(row).map(([column, cell]) => [column, visibleText(cell)])),
  );
}

async function releaseV1(world: CanaryWorld): Promise<ExecutionState> {
  let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
  state = await flow.promote(state, world);
  world.clock.advance(300);
  state = await flow.checkWatch(state, world);
  return flow.finalize(state, world);
}

/** v2 registered and at its first canary step (10%). */
async function canaryAtFirstStep(world: CanaryWorld): Promise<ExecutionState> {
  const state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
  return flow.canaryStep(state, world);
}

const LATENCY = "modelship-llama-v2-latency-p95";
const ROLLBACK = "modelship-llama-v2-rollback";

function reportOf(world: CanaryWorld, state: ExecutionState, name = "report.html"): string {
  const { rollout } = state;
  const text = world.objects.text(`reports/${MODEL}/${rollout.version}/${rollout.id}/${name}`);
  if (text === undefined) throw new Error(`${name} of ${rollout.id} was not written`);
  return text;
}

/** The latency alarm's p95 every 10 s from `from` (ISO), one value per period. */
function latencyPoints(from: string, values: readonly number[]) {
  const start = Date.parse(from);
  return values.map((value, i) => ({ at: new Date(start + i * 10_000).toISOString(), value }));
}

describe("report.html of a canary rolled back by its alarm", () => {
  let world: CanaryWorld;
  let state: ExecutionState;
  let page: string;

  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
    world.clock.advance(60);
    state = await canaryAtFirstStep(world);
    const stepAt = world.clock.now().toISOString();
    world.clock.advance(40);
    world.alarms.setPoints(LATENCY, latencyPoints(stepAt, [820, 900, 2412, 2650]));
    world.alarms.setState(LATENCY, "ALARM", { value: 2650 });
    world.alarms.setState(ROLLBACK, "ALARM");
    const outcome = await rollback(
      {
        by: "alarm",
        alarmName: ROLLBACK,
        alarmPrefix: "modelship-",
        stateValue: "ALARM",
        reason: "Threshold Crossed",
      },
      world,
    );
    expect(outcome).toMatchObject({
      result: "rolled back",
      reportKey: expect.stringMatching(/report\.html$/),
    });
    page = reportOf(world, state);
  });

  it("opens with the final state, the alarm that ended it and its reason", () => {
    const banner = visibleText(page.slice(page.indexOf('<div class="end'), page.indexOf("<nav")));
    expect(banner).toContain(`✘ Rolled back by alarm ${ROLLBACK} at 2025-06-01 12:06:40 UTC.`);
    expect(banner).toContain(`alarm ${LATENCY} is in ALARM: 2650 against a threshold of 2000`);
    expect(banner).toContain("v1 serves 100% again");
  });

  it("lists the canary step with its weights, when it started and how long it baked", () => {
    expect(textRecords(page, "Canary steps")).toEqual([
      {
        Step: "1 of 3",
        "v2 (candidate)": "10%",
        "v1 (stable)": "90%",
        Started: "2025-06-01 12:06:00 UTC",
        Baked: "40.0 s",
        "Planned bake": "—",
      },
    ]);
  });

  it("charts the latency alarm's metric over the canary against its threshold, with the step and the end marked", () => {
    const canary = elementById(page, "canary");
    const alarms = tableRecords(canary, "Alarms");
    const latency = alarms.find((row) => visibleText(row["Alarm"] ?? "").startsWith(LATENCY));
    expect(latency).toMatchObject({ "Periods with data": "4", "Beyond the threshold": "2" });
    expect(visibleText(latency?.["Highest"] ?? "")).toBe("2650");
    expect(visibleText(latency?.["Goes to ALARM when"] ?? "")).toBe("3 of 3 periods of 10 s are > 2000");
    // One chart per metric alarm; the composite has no metric of its own.
    expect(alarms).toHaveLength(5);
    expect(countElements(canary, "svg")).toBe(5);
    const chart = canary.slice(canary.indexOf(`<title id="chart-alarm-0-title">`));
    expect(visibleText(chart.slice(0, chart.indexOf("</svg>")))).toMatch(
      /^modelship-llama-v2-latency-p95 p95 latency of llama v2 .*: 4 periods of 10 s with data, 2 of them > the threshold 2000\. .* 10% rolled back value threshold 2000/s,
    );
    expect(structureProblems(page)).toEqual([]);
  });

  it("lists what the rollout recorded, from Prepare to the rollback", () => {
    const stages = tableRecords(page, "What the rollout recorded").map((row) =>
      visibleText(row["Stage"] ?? ""),
    );
    expect(stages[0]).toBe("Prepare");
    expect(stages).toContain("CanaryStep");
    expect(stages.at(-1)).toBe("Rollback");
  });

  it("keeps the alarm's account when the state machine's Rollback finds the rollout rolled back, and adds the manifest", async () => {
    world.clock.advance(20);
    const checked = await flow.checkCanary(state, world);
    expect(canaryVerdict(checked)).toBe("Rollback");
    const after = await flow.rollback(checked, world);
    expect(after.outcome).toMatchObject({ result: "already rolled back" });
    const again = reportOf(world, state);
    expect(visibleText(again)).toContain(`✘ Rolled back by alarm ${ROLLBACK} at 2025-06-01 12:06:40 UTC.`);
    expect(visibleText(elementById(again, "rollout"))).toContain(`Manifest models/llama/v2/modelship.yaml`);
    expect(countElements(elementById(again, "canary"), "svg")).toBe(5);
    // The state machine knows the plan: the step gets its planned bake.
    expect(textRecords(again, "Canary steps")[0]).toMatchObject({ Step: "1 of 3", "Planned bake": "60.0 s" });
  });
});

describe("report.html of a rollout aborted by a command", () => {
  it("names who asked and why, as text even when it is markup", async () => {
    const world = canaryWorld();
    await releaseV1(world);
    const state = await canaryAtFirstStep(world);
    world.clock.advance(15);
    const answer = await handleCommand(
      {
        "detail-type": "Abort Requested",
        detail: {
          model: MODEL,
          requestedBy: "<b>mallory</b>",
          reason: "<script>alert(1)</script> latency spike",
        },
      },
      world,
    );
    expect(answer.status).toBe("done");
    const page = reportOf(world, state);
    expect(page).not.toContain("<script>alert");
    expect(page).not.toContain("<b>mallory");
    const banner = visibleText(page.slice(page.indexOf('<div class="end'), page.indexOf("<nav")));
    expect(banner).toContain("✘ Aborted at the request of <b>mallory</b> at 2025-06-01 12:05:15 UTC.");
    expect(banner).toContain(
      "an abort was requested by <b>mallory</b> (<script>alert(1)</script> latency spike)",
    );
    const outcome = JSON.parse(reportOf(world, state, "outcome.json")) as { end: unknown };
    expect(outcome.end).toMatchObject({
      state: "Aborted",
      trigger: "command",
      requestedBy: "<b>mallory</b>",
    });
    expect(structureProblems(page)).toEqual([]);
  });
});

describe("report.html of a canary that shipped", () => {
  it("tells every step, the promotion, the quiet alarms and the success", async () => {
    const world = canaryWorld();
    await releaseV1(world);
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    const armed = world.clock.now().toISOString();
    for (;;) {
      state = await flow.canaryStep(state, world);
      world.clock.advance(Number(state.canary?.["bakeSeconds"]));
      state = await flow.checkCanary(state, world);
      if (canaryVerdict(state) !== "CanaryStep") break;
    }
    expect(canaryVerdict(state)).toBe("Promote");
    world.alarms.setPoints(LATENCY, latencyPoints(armed, [700, 810, 760, 690, 720]));
    state = await flow.promote(state, world);
    world.clock.advance(300);
    state = await flow.checkWatch(state, world);
    state = await flow.finalize(state, world);

    const page = reportOf(world, state);
    expect(visibleText(page)).toContain("✔ Succeeded in Finalize at 2025-06-01 12:12:30 UTC.");
    expect(visibleText(elementById(page, "rollout"))).toContain(
      "Strategy canary: 10% → 50% → 100%, each step baked under the alarms",
    );
    expect(
      textRecords(page, "Canary steps").map((row) => [
        row["Step"],
        row["v2 (candidate)"],
        row["Baked"],
        row["Planned bake"],
      ]),
    ).toEqual([
      ["1 of 3", "10%", "60.0 s", "60.0 s"],
      ["2 of 3", "50%", "60.0 s", "60.0 s"],
      ["3 of 3", "100%", "30.0 s", "30.0 s"],
    ]);
    expect(visibleText(elementById(page, "canary"))).toContain(
      "Promoted at 2025-06-01 12:07:30 UTC: llama v2 was promoted to 100%; v1 stays warm through the 300 s watch.",
    );
    const latency = tableRecords(page, "Alarms").find((row) =>
      visibleText(row["Alarm"] ?? "").startsWith(LATENCY),
    );
    expect(latency).toMatchObject({ "Periods with data": "5", "Beyond the threshold": "0" });
    // Read from arming (the first step) to the end of the watch, before the alarms were removed.
    expect(world.alarms.historySpans.at(-1)).toEqual({
      start: new Date(armed),
      end: world.clock.now(),
    });
    expect(world.alarms.names.filter((name) => name.includes("-v2-"))).toEqual([]);
  });
});

describe("report.html of a rollout that failed a gate", () => {
  it("names the error and the stage that raised it, and that no canary ran", async () => {
    const world = canaryWorld();
    await releaseV1(world);
    const gated = await rolloutThroughGates(world, "v2");
    const failure = new SloViolated("p95 TTFT 1,240 ms is above the SLO of 800 ms.", {
      hint: "Lower the load or raise the SLO.",
    });
    const state: ExecutionState = {
      ...gated,
      plan: { ...gated.plan!, gates: { smoke: true, stress: true, eval: false } },
      stress: { workers: [{ index: 0 }] },
      error: {
        Error: failure.name,
        Cause: JSON.stringify({ errorType: failure.name, errorMessage: failure.message }),
      },
    };
    const outcome = await cleanup(state, world);
    expect(outcome.reportKey).toMatch(/report\.html$/);
    const page = reportOf(world, state);
    expect(visibleText(page)).toContain(
      "✘ Failed with SloViolated in MergeStress at 2025-06-01 12:05:00 UTC.",
    );
    expect(visibleText(page)).toContain("Hint: Lower the load or raise the SLO.");
    expect(visibleText(elementById(page, "canary"))).toContain(
      "No canary: the rollout ended in Cleanup before any traffic moved to v2.",
    );
  });
});

describe("A rollout's end, when its report cannot be told", () => {
  let world: CanaryWorld;
  beforeEach(async () => {
    world = canaryWorld();
    await releaseV1(world);
  });

  it("rolls back all the same when the report cannot be written, and says why", async () => {
    await canaryAtFirstStep(world);
    vi.spyOn(world.objects, "put").mockRejectedValue(new Error("AccessDenied: s3:PutObject"));
    const outcome = await rollback(
      { by: "command", command: "Rollback Requested", model: MODEL, requestedBy: "alice" },
      world,
    );
    expect(outcome.result).toBe("rolled back");
    expect(outcome.reportProblem).toMatch(/could not be written: AccessDenied: s3:PutObject$/);
    const record = await world.store.get(MODEL);
    expect(record?.lock).toBeUndefined();
    expect(world.gateway.weightsOf(MODEL)).toEqual({ v1: 100 });
    expect(world.events.ofType("Model Rolled Back")).toHaveLength(1);
  });

  it("rolls back all the same when the alarms' metrics cannot be read, and the page says so", async () => {
    const state = await canaryAtFirstStep(world);
    world.alarms.failHistory(new Error("CloudWatch refused to read the metric (Throttling)"));
    const outcome = await rollback(
      { by: "command", command: "Rollback Requested", model: MODEL, requestedBy: "alice" },
      world,
    );
    expect(outcome.result).toBe("rolled back");
    expect(world.alarms.names.filter((name) => name.includes("-v2-"))).toEqual([]);
    expect(visibleText(elementById(reportOf(world, state), "canary"))).toContain(
      "The alarms' metrics could not be read, so there are no charts: CloudWatch refused to read the metric (Throttling)",
    );
  });
});
