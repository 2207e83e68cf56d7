// Writes the rollout's self-contained report.html next to the reports its stages wrote
// (`reports/<model>/<version>/<rolloutId>/`): it reads whichever of validation.json, stress.json, eval.json and
// outcome.json exist, reads the stress test's percentile curves from its merged HDR histograms, and renders the
// page (lib/core/report). A missing document is a gate that did not run (or, for outcome.json, a rollout that
// has not ended); a malformed one is described in the page rather than thrown, so the report of a failed
// rollout is still written. Called at the end of MergeStress and MergeEval, on a pass and on a failure, and by
// the stage that ends the rollout (lib/pipeline/rollout-outcome.ts); writing it again replaces it.

import { CURVE_METRICS, CURVE_PERCENTILES, type LatencyCurves } from "../core/report/latency-curves";
import { renderRolloutReport } from "../core/report/render-rollout-report";
import {
  type DocumentKind,
  type DocumentOf,
  readReportDocument,
  type ReportDocument,
  type StressDocument,
} from "../core/report/report-documents";
import { formatBytes } from "../core/report/report-format";
import type { ReportRollout, StressReport } from "../core/report/report-input";
import { HistogramSet, HistogramSetInvalid } from "../loadgen/histogram-set";
import { combinedUse, type DepsUsing, portUse } from "./port-use";

/** A gate document bigger than this is not read into memory: no stage writes one (eval.json keeps outputs short). */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

/** Reads the gates' documents and writes the page, all under `reports/`. */
export const ROLLOUT_REPORT_USES = portUse({
  objects: { head: ["reports"], get: ["reports"], put: ["reports"] },
});

/**
 * What a gate's merge stage (MergeStress, MergeEval) uses: it reads its shards' results and the stable's kept
 * result, writes its report and the rollout's page under `reports/`, and announces the gate.
 */
export const GATE_MERGE_USES = combinedUse(
  ROLLOUT_REPORT_USES,
  portUse({
    objects: { get: ["reports"], put: ["reports"], location: [] },
    store: ["getVersionResults"],
    events: ["emit"],
    clock: ["now"],
  }),
);

/** Where a rollout's reports go: `reports/<model>/<version>/<rolloutId>`. */
export function reportPrefix(rollout: Pick<ReportRollout, "model" | "version" | "id">): string {
  return `reports/${rollout.model}/${rollout.version}/${rollout.id}`;
}

/**
 * Renders and writes `reports/<model>/<version>/<rolloutId>/report.html`; returns its key. `writtenBy` names
 * the stage writing it while the rollout still runs.
 */
export async function writeRolloutReport(
  rollout: ReportRollout,
  deps: DepsUsing<typeof ROLLOUT_REPORT_USES>,
  writtenBy?: string,
): Promise<string> {
  const prefix = reportPrefix(rollout);
  const [validation, stress, evaluation, shadow, outcome] = await Promise.all([
    readDocument("validation", `${prefix}/validation.json`, rollout, deps.objects),
    readDocument("stress", `${prefix}/stress.json`, rollout, deps.objects).then(withLatencyCurves),
    readDocument("eval", `${prefix}/eval.json`, rollout, deps.objects),
    readDocument("shadow", `${prefix}/shadow.json`, rollout, deps.objects),
    readDocument("outcome", `${prefix}/outcome.json`, rollout, deps.objects),
  ]);
  const key = `${prefix}/report.html`;
  const page = renderRolloutReport({
    rollout,
    validation,
    stress,
    eval: evaluation,
    shadow,
    outcome,
    ...(writtenBy !== undefined && { writtenBy }),
  });
  await deps.objects.put(key, page, { contentType: "text/html; charset=utf-8" });
  return key;
}

/** A document under the rollout's reports, checked; never throws for what it finds in the bucket. */
export async function readDocument<K extends DocumentKind>(
  kind: K,
  key: string,
  rollout: ReportRollout,
  objects: DepsUsing<typeof ROLLOUT_REPORT_USES>["objects"],
): Promise<ReportDocument<DocumentOf<K>>> {
  const info = await objects.head(key);
  if (!info) return { status: "missing", key };
  if (info.size > MAX_DOCUMENT_BYTES) {
    return {
      status: "unreadable",
      key,
      problems: [
        `it is ${formatBytes(info.size)}, more than the ${formatBytes(MAX_DOCUMENT_BYTES)} a report reads; no stage writes one that big`,
      ],
    };
  }
  const bytes = await objects.get(key);
  if (!bytes) return { status: "missing", key };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    return { status: "unreadable", key, problems: [`it is not JSON: ${(error as Error).message}`] };
  }
  return readReportDocument(kind, key, value, rollout);
}

/** The stress document with TTFT, TPOT and E2E read at CURVE_PERCENTILES from its merged histograms. */
function withLatencyCurves(stress: ReportDocument<StressDocument>): ReportDocument<StressReport> {
  if (stress.status !== "read") return stress;
  let histograms: HistogramSet;
  try {
    histograms = HistogramSet.deserialize(stress.value.result.histograms);
  } catch (error) {
    if (!(error instanceof HistogramSetInvalid)) throw error;
    return { status: "unreadable", key: stress.key, problems: [`result.histograms: ${error.message}`] };
  }
  const curves: LatencyCurves = {};
  for (const metric of CURVE_METRICS) {
    const values = histograms.valuesAtPercentiles(metric, CURVE_PERCENTILES);
    if (values) {
      curves[metric] = values.map((ms, i) => ({ percentile: CURVE_PERCENTILES[i] as number, ms }));
    }
  }
  return { status: "read", key: stress.key, value: { document: stress.value, curves } };
}
