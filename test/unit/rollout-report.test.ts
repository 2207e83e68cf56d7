import { beforeAll, describe, expect, it } from "vitest";
import { formatMs } from "../../lib/core/report/report-format";
import { renderRolloutReport } from "../../lib/core/report/render-rollout-report";
import type { OutcomeDocument } from "../../lib/core/report/report-documents";
import { escapeControlCharacters } from "../../lib/core/text/terminal-text";
import type { LoadSummary } from "../../lib/loadgen/load-summary";
import { writeRolloutReport } from "../../lib/pipeline/rollout-report";
import {
  countElements,
  dataValues,
  elementById,
  structureProblems,
  tableRecords,
  visibleText,
} from "../support/html-page";
import {
  CANDIDATE,
  HOSTILE,
  reportKey,
  reportWorld,
  type ReportWorld,
  writeEvalJson,
  writeStressJson,
  writeValidationJson,
} from "../support/rollout-reports";

interface StressJson {
  readonly checks: readonly { name: string; threshold: number; measured: number | null; pass: boolean }[];
  readonly result: { readonly histograms: string };
}

interface EvalJson {
  readonly suites: readonly {
    suite: string;
    pass: boolean;
    minScore: number;
    score: { score: number; items: number; correct: number; interval: { low: number; high: number } };
    comparison?: {
      stableScore: number;
      onlyStableCorrect: number;
      onlyCandidateCorrect: number;
      pValue: number;
    };
  }[];
}

function json<T>(world: ReportWorld, name: "stress.json" | "eval.json"): T {
  const text = world.objects.text(reportKey(name));
  if (text === undefined) throw new Error(`${name} was not written`);
  return JSON.parse(text) as T;
}

async function pageOf(world: ReportWorld): Promise<string> {
  const page = world.objects.text(await writeRolloutReport(CANDIDATE, world));
  if (page === undefined) throw new Error("report.html was not written");
  return page;
}

/** Each escaped HOSTILE string removed: what is left is what the page itself wrote. */
function withoutUserText(page: string): string {
  let rest = page;
  for (const text of Object.values(HOSTILE)) {
    const escaped = escapeControlCharacters(text, "\t\n\r").replace(
      /[&<>"']/g,
      (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
    );
    rest = rest.split(escaped).join("");
  }
  return rest;
}

describe("report.html of a rollout whose gates all ran, compared with stable", () => {
  const world = reportWorld();
  let truth: LoadSummary;
  let page: string;

  beforeAll(async () => {
    await writeValidationJson(world);
    truth = await writeStressJson(world, { withStable: true, failures: 3 });
    await writeEvalJson(world, { withStable: true });
    page = await pageOf(world);
  });

  it("has a section for the rollout, the validation, the stress test and the eval, and each gate's verdict", () => {
    for (const id of ["rollout", "validation", "stress", "eval"])
      expect(elementById(page, id)).toContain("<h2");
    const gates = tableRecords(page, "The gates").map((row) => [
      visibleText(row["Gate"] ?? ""),
      visibleText(row["Verdict"] ?? ""),
    ]);
    expect(gates).toEqual([
      ["Validate", "✔ valid"],
      ["Stress test", "✔ passed"],
      ["Eval", "✔ passed"],
    ]);
    const rollout = visibleText(elementById(page, "rollout"));
    for (const fact of [CANDIDATE.model, CANDIDATE.version, CANDIDATE.id, "2025-06-01 12:00:00 UTC"]) {
      expect(rollout).toContain(fact);
    }
  });

  it("shows every latency percentile exactly as summarizeLoad computed it from the merged histograms", () => {
    const rows = tableRecords(page, "Latency (ms) over the measured requests");
    const shown = Object.fromEntries(rows.map((row) => [visibleText(row["Metric"] ?? ""), row]));
    for (const [metric, label] of [
      ["ttft", "TTFT"],
      ["tpot", "TPOT"],
      ["itl", "ITL"],
      ["e2e", "E2E"],
      ["queue", "Queue"],
    ] as const) {
      const stats = truth.latency[metric];
      const row = shown[label];
      if (!stats || !row) throw new Error(`no ${label} to compare`);
      expect(visibleText(row["Values"] ?? "")).toBe(stats.count.toLocaleString("en-US"));
      expect(dataValues(row["p99"] ?? "")).toEqual([stats.p99Ms]);
      expect(
        [row["Mean"], row["p50"], row["p90"], row["p95"], row["Max"]].flatMap((cell) =>
          dataValues(cell ?? ""),
        ),
      ).toEqual([stats.meanMs, stats.p50Ms, stats.p90Ms, stats.p95Ms, stats.maxMs]);
    }
  });

  it("lists every SLO and regression check with its threshold, the measured value and the verdict", () => {
    const { checks } = json<StressJson>(world, "stress.json");
    const rows = tableRecords(page, "SLO and regression checks");
    expect(rows.map((row) => visibleText(row["Check"] ?? ""))).toEqual(checks.map((c) => c.name));
    rows.forEach((row, i) => {
      const check = checks[i]!;
      expect(dataValues(row["Measured"] ?? "")).toEqual([check.measured]);
      expect(visibleText(row["Verdict"] ?? "")).toBe(check.pass ? "✔ held" : "✘ violated");
    });
    expect(visibleText(rows[0]?.["Threshold"] ?? "")).toBe("at most 2,000 ms");
    expect(checks.map((c) => c.name)).toContain("regression.ttftP95Ms");
    expect(visibleText(elementById(page, "stress"))).toContain("Compared with stable v2 (the same profile).");
  });

  it("shows the profile, the throughput and the failed requests by class with the first one's detail", () => {
    const stress = visibleText(elementById(page, "stress"));
    expect(stress).toContain("concurrency 4, 64 → 32 tokens");
    expect(stress).toContain(
      `${truth.requests} requests (${truth.completed} completed, ${truth.failed} failed)`,
    );
    expect(stress).toContain("from the server's usage in 297 requests");
    const errors = tableRecords(page, "Failed requests by class");
    expect(
      errors.map((row) => [
        visibleText(row["Class"] ?? ""),
        visibleText(row["Requests"] ?? ""),
        visibleText(row["First one's detail"] ?? ""),
      ]),
    ).toEqual([["http_500", "3", HOSTILE.errorDetail]]);
  });

  it("draws TTFT, TPOT and E2E by percentile from p0 to p99.9, and requests and tokens per second over time, each chart titled, described and with labelled axes", () => {
    const titles = [...page.matchAll(/<svg[\s\S]*?<title id="[^"]*">([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(titles).toEqual([
      "TTFT by percentile",
      "TPOT by percentile",
      "E2E by percentile",
      "Requests per second over time",
      "Output tokens per second over time",
    ]);
    const ttft = elementById(page, "stress").match(/<svg[\s\S]*?<\/svg>/)?.[0] ?? "";
    expect(ttft).toMatch(/aria-labelledby="chart-ttft-title chart-ttft-desc"/);
    expect(visibleText(ttft)).toContain(`p99 ${formatMs(truth.latency.ttft!.p99Ms)}`);
    for (const label of ["TTFT (ms)", "Percentile of requests (log scale toward the tail)", "p0", "p99.9"]) {
      expect(visibleText(ttft)).toContain(label);
    }
    expect(visibleText(page)).toContain("Seconds after the warm-up");
    expect(visibleText(page)).toContain("failed requests/s");
  });

  it("puts each suite's score, Wilson interval, n and minScore next to stable's score with b, c and p", () => {
    const { suites } = json<EvalJson>(world, "eval.json");
    const rows = tableRecords(page, "Suites");
    expect(rows.map((row) => visibleText(row["Suite"] ?? ""))).toEqual(suites.map((s) => s.suite));
    rows.forEach((row, i) => {
      const suite = suites[i]!;
      const comparison = suite.comparison!;
      expect(dataValues(row["Score (95% CI)"] ?? "")).toEqual([suite.score.score]);
      expect(visibleText(row["Score (95% CI)"] ?? "")).toContain(
        `(${(suite.score.interval.low * 100).toFixed(1)}%–${(suite.score.interval.high * 100).toFixed(1)}%)`,
      );
      expect(visibleText(row["n"] ?? "")).toContain(`${suite.score.correct}/${suite.score.items}`);
      expect(visibleText(row["minScore"] ?? "")).toBe(`${(suite.minScore * 100).toFixed(1)}%`);
      expect(dataValues(row["Stable on the same items"] ?? "")[0]).toBe(comparison.stableScore);
      expect(visibleText(row["b"] ?? "")).toBe(String(comparison.onlyStableCorrect));
      expect(visibleText(row["c"] ?? "")).toBe(String(comparison.onlyCandidateCorrect));
      expect(dataValues(row["p"] ?? "")).toEqual([comparison.pValue]);
    });
    expect(suites.find((s) => s.suite === "quiz")?.comparison?.onlyStableCorrect).toBe(3);
  });

  it("lists a suite's items answered wrong with the prompt, the expected answer, what was extracted and the output", () => {
    const items = tableRecords(page, "The 3 items answered wrong");
    const byId = Object.fromEntries(items.map((row) => [visibleText(row["Item"] ?? "").split(" ")[0], row]));
    expect(Object.keys(byId)).toEqual([HOSTILE.itemId, "q3", "q7"]);
    const q3 = byId["q3"]!;
    expect([q3["Prompt"], q3["Expected"], q3["Output"]].map((cell) => visibleText(cell ?? ""))).toEqual([
      "user: Question q3?",
      "yes",
      "No.",
    ]);
  });

  it("lists the items without an answer apart from the wrong ones, with the server's error, and counts them by kind", () => {
    const [item, ...more] = tableRecords(page, "The 1 item without an answer");
    expect(more).toEqual([]);
    expect(visibleText(item?.["Item"] ?? "")).toMatch(/^q9 error/);
    expect(visibleText(item?.["Output"] ?? "")).toBe(`no answer: ${HOSTILE.itemError}`);
    const quiz = tableRecords(page, "Suites").find((row) => visibleText(row["Suite"] ?? "") === "quiz")!;
    expect(visibleText(quiz["Wrong"] ?? "")).toBe("3");
    expect(visibleText(quiz["No answer"] ?? "")).toBe("1 (7.7%; at most 10.0%) HTTP 500 ×1");
  });

  it("escapes every string a user or a model wrote: a <script> in a model's output is shown as text", () => {
    expect(countElements(page, "script")).toBe(0);
    expect(countElements(page, "img")).toBe(0);
    expect(page).toContain(
      "&lt;script&gt;alert(&#39;output&#39;)&lt;/script&gt;&lt;img src=&quot;https://evil.example/x.png&quot;&gt;",
    );
    const hostile = tableRecords(page, "The 3 items answered wrong")[0]!;
    expect(visibleText(hostile["Output"] ?? "")).toBe(HOSTILE.output.replace("\u0000\u202e", "\\x00\\u202e"));
    expect(visibleText(hostile["Prompt"] ?? "")).toBe(HOSTILE.prompt);
    expect(visibleText(hostile["Expected"] ?? "")).toBe(HOSTILE.expected);
    expect(visibleText(hostile["Item"] ?? "")).toContain(HOSTILE.itemId);
    expect(visibleText(tableRecords(page, /^Findings/)[0]?.["Where"] ?? "")).toBe(HOSTILE.fileName);
  });

  it("shows a NUL and a right-to-left override in a model's output as escapes, never as the characters", () => {
    expect(HOSTILE.output).toContain("\u0000\u202egnp.exe");
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    expect(page).not.toMatch(/[\u0000\u202e]/);
    expect(page).toContain(" \\x00\\u202egnp.exe");
  });

  it("refers to nothing outside itself: no URL but inside escaped user text, no external resource", () => {
    const own = withoutUserText(page);
    expect(own).not.toMatch(/https?:\/\//);
    expect(own).not.toMatch(/<link|<script|<img|<iframe|<object|\ssrc=|@import|url\(/i);
    expect(page).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
  });

  it("is one well-formed document: one <html>, <head> and <body>, every element it opens closed in order", () => {
    expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
    for (const name of ["html", "head", "body", "main"]) expect(countElements(page, name)).toBe(1);
    expect(structureProblems(page)).toEqual([]);
  });

  it("stays small: charts come from the histograms' percentiles, not the per-request data", () => {
    const { result } = json<StressJson>(world, "stress.json");
    expect(page).not.toContain(result.histograms.slice(8, 60));
    expect(page.length).toBeLessThan(100_000);
  });
});

describe("report.html of a rollout that failed its gates", () => {
  it("shows the failed verdicts, the violated SLO, the failing suite and the validation errors", async () => {
    const world = reportWorld();
    await writeValidationJson(world, { broken: true });
    await writeStressJson(world, { slo: { ttftP95Ms: 50 } });
    await writeEvalJson(world, { minScore: 0.9 });
    const page = await pageOf(world);

    const gates = tableRecords(page, "The gates").map((row) => visibleText(row["Verdict"] ?? ""));
    expect(gates).toEqual(["✘ not valid", "✘ failed", "✘ failed"]);
    const [ttft] = tableRecords(page, "SLO and regression checks");
    expect(visibleText(ttft?.["Verdict"] ?? "")).toBe("✘ violated");
    expect(visibleText(elementById(page, "stress"))).toContain("1 of 2 checks were violated: ttftP95Ms.");
    expect(visibleText(elementById(page, "eval"))).toContain("1 of 2 suites failed: quiz.");
    expect(visibleText(elementById(page, "eval"))).toContain(
      "There is no stable version to compare with (a first release): only minScore applies.",
    );
    const verdicts = tableRecords(page, "Suites").map((row) => visibleText(row["Verdict"] ?? ""));
    expect(verdicts).toEqual(["✔ passed", "✘ failed"]);
    const findings = tableRecords(page, /^Findings/).map((row) => [
      visibleText(row["Severity"] ?? ""),
      visibleText(row["Where"] ?? ""),
    ]);
    expect(findings[0]).toEqual(["error", "config.json"]);
    expect(findings).toContainEqual(["warning", HOSTILE.fileName]);
    expect(structureProblems(page)).toEqual([]);
  });
});

describe("report.html of a rollout whose eval could not be evaluated", () => {
  it("marks the suite not evaluated, apart from failed, with its items without an answer by kind", async () => {
    const world = reportWorld();
    await writeEvalJson(world, { unanswered: 6 });
    const page = await pageOf(world);

    const quiz = tableRecords(page, "Suites").find((row) => visibleText(row["Suite"] ?? "") === "quiz")!;
    expect(visibleText(quiz["Verdict"] ?? "")).toBe("✘ not evaluated");
    expect(visibleText(quiz["No answer"] ?? "")).toBe("7 (53.8%; at most 10.0%) HTTP 400 ×6, HTTP 500 ×1");
    expect(visibleText(elementById(page, "eval"))).toContain("Could not evaluate: 7 of");
    expect(tableRecords(page, "The first 5 of 7 items without an answer")).toHaveLength(5);
    expect(structureProblems(page)).toEqual([]);
  });
});

describe("renderRolloutReport", () => {
  it("says of every gate that it did not run when none left a report, rather than leaving sections empty", () => {
    const key = (name: string) => `reports/llama/v3/${CANDIDATE.id}/${name}`;
    const page = renderRolloutReport({
      rollout: CANDIDATE,
      validation: { status: "missing", key: key("validation.json") },
      stress: { status: "missing", key: key("stress.json") },
      eval: { status: "missing", key: key("eval.json") },
      outcome: { status: "missing", key: key("outcome.json") },
    });

    expect(visibleText(elementById(page, "stress"))).toBe(
      `Stress test The stress test did not run for this rollout: the gate is off in the manifest (gates.stress.enabled: false), or the rollout stopped before it (there is no ${key("stress.json")}).`,
    );
    expect(visibleText(elementById(page, "eval"))).toContain("The eval gate did not run for this rollout");
    expect(visibleText(elementById(page, "validation"))).toContain("Validate did not run for this rollout");
    expect(tableRecords(page, "The gates").map((row) => visibleText(row["Verdict"] ?? ""))).toEqual([
      "did not run",
      "did not run",
      "did not run",
    ]);
    expect(structureProblems(page)).toEqual([]);
  });
});

describe("renderRolloutReport with the rollout's end", () => {
  const key = (name: string) => `reports/llama/v3/${CANDIDATE.id}/${name}`;
  const missing = (name: string) => ({ status: "missing" as const, key: key(name) });
  /** An outcome.json whose every string a user, a command or a model could have written is markup. */
  const hostile = (): OutcomeDocument => ({
    rolloutId: CANDIDATE.id,
    version: CANDIDATE.version,
    at: "2025-06-01T12:10:00.000Z",
    model: "llama",
    end: {
      state: "RolledBack",
      stage: "Rollback",
      at: "2025-06-01T12:09:30.000Z",
      reason: HOSTILE.errorDetail,
      trigger: "command",
      requestedBy: HOSTILE.expected,
      hint: HOSTILE.prompt,
      leftBehind: [HOSTILE.itemError],
    },
    stableVersion: HOSTILE.itemId,
    steps: [{ step: 1, of: 2, weight: 25, stableWeight: 75, at: "2025-06-01T12:08:00.000Z" }],
    promotion: {
      at: "2025-06-01T12:09:00.000Z",
      reason: HOSTILE.output,
      requested: HOSTILE.fileName,
    },
    alarms: {
      start: "2025-06-01T12:08:00.000Z",
      end: "2025-06-01T12:09:30.000Z",
      problem: HOSTILE.errorDetail,
      series: [
        {
          name: HOSTILE.fileName,
          description: HOSTILE.prompt,
          threshold: 2000,
          comparison: "GreaterThanThreshold",
          alarmPeriodSeconds: 10,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          periodSeconds: 10,
          points: [{ at: "2025-06-01T12:08:10.000Z", value: 2500 }],
        },
      ],
    },
    transitions: [
      { at: "2025-06-01T12:08:00.000Z", stage: HOSTILE.itemId, status: "running", reason: HOSTILE.output },
      {
        at: "2025-06-01T12:08:40.000Z",
        stage: "StepHooks",
        status: "running",
        reason: HOSTILE.output,
        hook: {
          name: HOSTILE.fileName,
          at: "eachStep",
          result: "ignored",
          reason: HOSTILE.errorDetail,
          durationMs: 1250,
          attempts: 2,
          step: 1,
        },
      },
    ],
  });

  function page(outcome: OutcomeDocument): string {
    return renderRolloutReport({
      rollout: CANDIDATE,
      validation: missing("validation.json"),
      stress: missing("stress.json"),
      eval: missing("eval.json"),
      outcome: { status: "read", key: key("outcome.json"), value: outcome },
    });
  }

  it("shows every string of outcome.json as text: no tag, attribute or script of its own", () => {
    const rendered = page(hostile());
    const own = withoutUserText(rendered);
    expect(own).not.toMatch(/<script|<img|<b |<i>|<h1>upstream|onmouseover/i);
    expect(structureProblems(rendered)).toEqual([]);
    const text = visibleText(rendered);
    for (const value of [HOSTILE.errorDetail, HOSTILE.expected, HOSTILE.fileName, HOSTILE.itemError]) {
      expect(text).toContain(value);
    }
  });

  it("says a rollout that has not ended is still running, naming the stage that wrote the page", () => {
    const rendered = renderRolloutReport({
      rollout: CANDIDATE,
      validation: missing("validation.json"),
      stress: missing("stress.json"),
      eval: missing("eval.json"),
      outcome: missing("outcome.json"),
      writtenBy: "MergeEval",
    });
    expect(visibleText(rendered)).toContain(
      "● Running — the rollout had not ended when MergeEval wrote this page; Finalize, Rollback or Cleanup writes it again when it ends.",
    );
    expect(visibleText(elementById(rendered, "canary"))).toContain(
      `The rollout had not ended when this page was written: its canary, alarms and end are added when Finalize, Rollback or Cleanup ends it (there is no ${key("outcome.json")}).`,
    );
  });

  it("lists each hook the rollout ran: its point and step, result, reason, time and calls", () => {
    const outcome: OutcomeDocument = {
      ...hostile(),
      transitions: [
        {
          at: "2025-06-01T12:08:40.000Z",
          stage: "StepHooks",
          status: "running",
          reason: "Hook regression …",
          hook: {
            name: "regression",
            at: "eachStep",
            result: "passed",
            reason: "40 of 40 prompts unchanged",
            durationMs: 1250,
            attempts: 1,
            step: 1,
          },
        },
        {
          at: "2025-06-01T12:09:10.000Z",
          stage: "PrePromoteHooks",
          status: "running",
          reason: "Hook sign-off …",
          hook: {
            name: "sign-off",
            at: "prePromote",
            result: "failed",
            reason: "answered HTTP 503 (3 attempts within 60 s)",
            durationMs: 7000,
            attempts: 3,
          },
        },
      ],
    };
    const rows = tableRecords(elementById(page(outcome), "hooks"), "Each hook's run, in order");
    expect(
      rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, visibleText(v)]))),
    ).toEqual([
      {
        Hook: "regression",
        Point: "eachStep, step 1",
        Result: "✔ passed",
        Reason: "40 of 40 prompts unchanged",
        Took: "1.3 s",
        Calls: "1",
        Finished: "2025-06-01 12:08:40 UTC",
      },
      {
        Hook: "sign-off",
        Point: "prePromote",
        Result: "✘ failed: stopped the rollout",
        Reason: "answered HTTP 503 (3 attempts within 60 s)",
        Took: "7 s",
        Calls: "3",
        Finished: "2025-06-01 12:09:10 UTC",
      },
    ]);
  });

  it("says no hook ran when the rollout recorded none, and that runs come with the end while it runs", () => {
    const outcome: OutcomeDocument = { ...hostile(), transitions: [] };
    expect(visibleText(elementById(page(outcome), "hooks"))).toContain(
      "No hook ran: the manifest names none under gates.hooks, or the rollout ended before its first.",
    );
    const running = renderRolloutReport({
      rollout: CANDIDATE,
      validation: missing("validation.json"),
      stress: missing("stress.json"),
      eval: missing("eval.json"),
      outcome: missing("outcome.json"),
    });
    expect(visibleText(elementById(running, "hooks"))).toContain(
      "The hooks' runs are shown once the rollout ends",
    );
  });

  it("names the strategy (canary steps, linear step and interval, blue/green) and the stickiness", () => {
    const factsOf = (outcome: OutcomeDocument) => visibleText(elementById(page(outcome), "rollout"));
    const canary = factsOf({
      ...hostile(),
      strategy: { kind: "canary", weights: [5, 25, 100] },
      stickiness: { header: "x-session-id" },
    });
    expect(canary).toContain("Strategy canary: 5% → 25% → 100%, each step baked under the alarms");
    expect(canary).toContain(
      "Sticky by header x-session-id: a conversation stays on the version it started on while weights move",
    );
    expect(
      factsOf({ ...hostile(), strategy: { kind: "linear", stepPercent: 10, intervalSeconds: 300 } }),
    ).toContain("Strategy linear (10% more every 300 s)");
    const blueGreen = factsOf({
      ...hostile(),
      strategy: { kind: "blueGreen" },
      stickiness: { cookie: "session" },
    });
    expect(blueGreen).toContain(
      "Strategy blue/green: all traffic to the warm candidate at once after the gates",
    );
    expect(blueGreen).toContain("Sticky by cookie session");
    expect(factsOf(hostile())).not.toContain("Sticky by");
  });

  it("tells a first release, which has no canary, by its promotion", () => {
    const outcome: OutcomeDocument = {
      ...hostile(),
      steps: [],
      promotion: { at: "2025-06-01T12:08:00.000Z", reason: "llama v3 was released at 100%." },
      end: { state: "Succeeded", stage: "Finalize", at: "2025-06-01T12:13:00.000Z", reason: "done." },
    };
    const canary = visibleText(elementById(page(outcome), "canary"));
    expect(canary).toContain(
      "No canary: v3 went to 100% at 2025-06-01 12:08:00 UTC. llama v3 was released at 100%.",
    );
  });
});
