// What the rollout report is rendered from: the rollout and whichever gate documents its stages wrote, each
// read and checked (report-documents.ts), plus the stress test's latency curves, which the caller reads from
// the merged HDR histograms (they cannot be read without the load generator's histogram code).

import type { RolloutIdentity } from "../rollout";
import type { LatencyCurves } from "./latency-curves";
import type { EvalDocument, ReportDocument, StressDocument, ValidationDocument } from "./report-documents";

export interface StressReport {
  readonly document: StressDocument;
  /** Each latency metric's values at CURVE_PERCENTILES; a metric nothing was recorded for is absent. */
  readonly curves: LatencyCurves;
}

export interface RolloutReportInput {
  readonly rollout: RolloutIdentity;
  readonly validation: ReportDocument<ValidationDocument>;
  readonly stress: ReportDocument<StressReport>;
  readonly eval: ReportDocument<EvalDocument>;
}
