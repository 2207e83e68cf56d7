import { describe, expect, it } from "vitest";
import { writeRolloutReport } from "../../lib/pipeline/rollout-report";
import type { ObjectInfo } from "../../lib/ports";
import { elementById, tableRecords, visibleText } from "../support/html-page";
import { MemoryObjectStore } from "../support/memory-object-store";
import {
  CANDIDATE,
  reportKey,
  reportWorld,
  STABLE,
  writeEvalJson,
  writeStressJson,
  writeValidationJson,
} from "../support/rollout-reports";

/** The in-memory bucket, keeping each object's content type as S3 does. */
class TypedObjectStore extends MemoryObjectStore {
  readonly contentTypes = new Map<string, string | undefined>();

  override async put(
    key: string,
    body: Uint8Array | string,
    options?: { contentType?: string },
  ): Promise<void> {
    this.contentTypes.set(key, options?.contentType);
    await super.put(key, body);
  }
}

/** A bucket in which eval.json claims a terabyte: a reader that trusted sizes would try to hold it. */
class HugeEvalObjectStore extends MemoryObjectStore {
  override async head(key: string): Promise<ObjectInfo | undefined> {
    const info = await super.head(key);
    return info && key === reportKey("eval.json") ? { ...info, size: 2 ** 40 } : info;
  }
}

function gateVerdicts(page: string): string[] {
  return tableRecords(page, "The gates").map((row) => visibleText(row["Verdict"] ?? ""));
}

async function written(world: ReturnType<typeof reportWorld>): Promise<string> {
  const page = world.objects.text(await writeRolloutReport(CANDIDATE, world));
  if (page === undefined) throw new Error("report.html was not written");
  return page;
}

describe("writeRolloutReport", () => {
  it("writes report.html next to the gate reports, as text/html; charset=utf-8, and returns its key", async () => {
    const objects = new TypedObjectStore();
    const world = reportWorld(objects);
    await writeValidationJson(world);
    await writeStressJson(world);
    await writeEvalJson(world);

    const key = await writeRolloutReport(CANDIDATE, world);

    expect(key).toBe(`reports/llama/v3/${CANDIDATE.id}/report.html`);
    expect(objects.contentTypes.get(key)).toBe("text/html; charset=utf-8");
    expect(gateVerdicts(objects.text(key) ?? "")).toEqual(["✔ valid", "✔ passed", "✔ passed"]);
  });

  it("writes a page for a rollout no gate has reported on yet, saying of each that it did not run", async () => {
    const world = reportWorld();

    const page = await written(world);

    expect(gateVerdicts(page)).toEqual(["did not run", "did not run", "did not run"]);
    expect(visibleText(elementById(page, "eval"))).toContain(`there is no ${reportKey("eval.json")}`);
    expect(page).not.toContain("could not be read");
  });

  it("describes a malformed report inside the page instead of failing, naming every wrong field, and still shows the others", async () => {
    const world = reportWorld();
    await writeValidationJson(world);
    await world.objects.put(reportKey("stress.json"), '{"model": "llama", "passed": tr');
    await world.objects.put(
      reportKey("eval.json"),
      JSON.stringify({
        rolloutId: CANDIDATE.id,
        version: "v3",
        at: "2025-06-01T12:00:00.000Z",
        stable: null,
        suites: "all",
      }),
    );

    const page = await written(world);

    expect(gateVerdicts(page)).toEqual(["✔ valid", "unknown", "unknown"]);
    const stress = visibleText(elementById(page, "stress"));
    expect(stress).toContain(`The report ${reportKey("stress.json")} could not be read`);
    expect(stress).toContain("it is not JSON");
    const evaluation = visibleText(elementById(page, "eval"));
    expect(evaluation).toContain(`The report ${reportKey("eval.json")} could not be read`);
    expect(evaluation).toMatch(/passed: .*boolean/);
    expect(evaluation).toMatch(/suites: .*array/);
    expect(visibleText(elementById(page, "validation"))).toContain("LlamaForCausalLM");
  });

  it("does not show another rollout's report as this one's", async () => {
    const world = reportWorld();
    await writeEvalJson(world);
    const other = JSON.parse(world.objects.text(reportKey("eval.json")) ?? "{}") as Record<string, unknown>;
    await world.objects.put(reportKey("eval.json"), JSON.stringify({ ...other, rolloutId: STABLE.id }));

    const page = await written(world);

    expect(visibleText(elementById(page, "eval"))).toContain(
      `it is the report of rollout '${STABLE.id}', not of '${CANDIDATE.id}'`,
    );
    expect(page).not.toContain("Suite quiz");
  });

  it("says so when the stress test's histograms cannot be decoded, rather than drawing wrong curves", async () => {
    const world = reportWorld();
    await writeStressJson(world);
    const stress = JSON.parse(world.objects.text(reportKey("stress.json")) ?? "{}") as {
      result: { histograms: string };
    };
    stress.result.histograms = stress.result.histograms.replace(/ttft:\d+/, "ttft:x");
    await world.objects.put(reportKey("stress.json"), JSON.stringify(stress));

    const page = await written(world);

    expect(visibleText(elementById(page, "stress"))).toContain(
      "result.histograms: the 'ttft' part of a serialized histogram set must be",
    );
    expect(page).not.toContain("<svg");
  });

  it("does not read a report bigger than any stage writes, and says why it is not shown", async () => {
    const objects = new HugeEvalObjectStore();
    const world = reportWorld(objects);
    await writeEvalJson(world);
    objects.reads.length = 0;

    const page = await written(world);

    expect(objects.reads.map((r) => r.key)).not.toContain(reportKey("eval.json"));
    expect(visibleText(elementById(page, "eval"))).toContain(
      "it is 1.0 TiB, more than the 64.0 MiB a report reads",
    );
  });

  it("written after MergeStress and again after MergeEval, shows each time what the gates had decided", async () => {
    const world = reportWorld();
    await writeStressJson(world);
    const afterStress = await written(world);
    await writeEvalJson(world);
    const afterEval = await written(world);

    expect(gateVerdicts(afterStress)).toEqual(["did not run", "✔ passed", "did not run"]);
    expect(gateVerdicts(afterEval)).toEqual(["did not run", "✔ passed", "✔ passed"]);
    expect(world.objects.text(reportKey("report.html"))).toBe(afterEval);
  });
});
