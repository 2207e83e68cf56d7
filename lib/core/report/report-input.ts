// What the rollout report is rendered from: the rollout, whichever gate documents its stages wrote and how it
// ended (outcome.json), each
// read and checked (report-documents.ts), plus the stress test's latency curves, which the caller reads from
// the merged HDR histograms (they cannot be read without the load generator's histogram code).

import type { RolloutIdentity, RolloutSource } from "../rollout/rollout";
import type { LatencyCurves } from "./latency-curves";
import type {
  EvalDocument,
  OutcomeDocument,
  ReportDocument,
  ShadowDocument,
  StressDocument,
  ValidationDocument,
} from "./report-documents";

export interface StressReport {
  readonly document: StressDocument;
  /** Each latency metric's values at CURVE_PERCENTILES; a metric nothing was recorded for is absent. */
  readonly curves: LatencyCurves;
}

/**
 * The rollout the page is about. A rollback started by an alarm or a command knows the rollout from the
 * model's lock, without the manifest's key: then `source` is absent.
 */
export type ReportRollout = Omit<RolloutIdentity, "source"> & { readonly source?: RolloutSource };

export interface RolloutReportInput {
  readonly rollout: ReportRollout;
  readonly validation: ReportDocument<ValidationDocument>;
  readonly stress: ReportDocument<StressReport>;
  readonly eval: ReportDocument<EvalDocument>;
  /** The shadow before the first step (shadow.json); absent or missing when the rollout had none. */
  readonly shadow?: ReportDocument<ShadowDocument>;
  /** How the rollout ended (outcome.json); missing while it runs. */
  readonly outcome: ReportDocument<OutcomeDocument>;
  /** The stage writing the page, named while the rollout still runs. */
  readonly writtenBy?: string;
}
