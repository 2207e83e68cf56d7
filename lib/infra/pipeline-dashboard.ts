// The pipeline's CloudWatch dashboard: what a release engineer looks at while rollouts run — executions by
// outcome, how long each stage takes, each version's latency, errors and TTFT (from the prober and from real
// traffic) against the stack's default alarm thresholds, the canary's weight changes and the rollbacks with
// their reasons. Models and versions come and go with each upload, so the version widgets are SEARCH
// expressions over the canary metrics' exact dimension set (lib/core/alarms/canary-metrics.ts), not a fixed list;
// the weight and rollback widgets are Logs Insights queries over the fields the stage handlers log
// (lib/aws/lambda/stage-outcome.ts: `stage`, `weight`, `step`, `steps`, `reason`; rollout-context.ts: `model`,
// `version`, `rolloutId`).

import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import {
  CANARY_DIMENSION_KEYS,
  type CanaryMetricName,
  type MetricSource,
} from "../core/alarms/canary-metrics";
import type { StackConfig } from "../core/config/config";

export interface PipelineDashboardProps {
  /** The dashboard's name, unique in the account and region. */
  readonly dashboardName: string;
  readonly stateMachine: sfn.IStateMachine;
  /** The stage metrics' `service` dimension: the functions' POWERTOOLS_SERVICE_NAME. */
  readonly serviceName: string;
  /** The stage metrics' namespace: the functions' POWERTOOLS_METRICS_NAMESPACE. */
  readonly stageMetricsNamespace: string;
  readonly config: Pick<StackConfig, "canaryMetrics" | "defaults">;
  /** The log groups of the functions that move traffic or end a rollout (CanaryStep, Promote, Rollback, …). */
  readonly rolloutLogGroups: readonly logs.ILogGroup[];
}

/** One period for every version widget: the alarms' default period is shorter, but a dashboard is read over hours. */
const VERSION_PERIOD = Duration.minutes(1);
const WIDTH = 12;
const HEIGHT = 6;

export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const alarms = props.config.defaults.rollout.alarms;
    const search = (name: CanaryMetricName, source: MetricSource, statistic: string, label: string) =>
      new cloudwatch.SearchExpression({
        expression: canaryMetricSearch(props.config.canaryMetrics.namespace, name, source, statistic),
        label,
        period: VERSION_PERIOD,
      });
    const threshold = (value: number, what: string): cloudwatch.HorizontalAnnotation => ({
      value,
      label: `${what} (the stack's default; a manifest may set its own)`,
      color: cloudwatch.Color.RED,
    });

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: [
          "# modelship rollouts",
          `State machine executions by outcome, stage durations, and each version's latency, errors and TTFT as the ` +
            `prober (\`Source=probe\`) and real traffic (\`Source=traffic\`/\`prometheus\`) measure them. Red lines are ` +
            "the stack's default alarm thresholds; a manifest's own thresholds are in its rollout's alarms. " +
            "`modelship status <model>` shows one rollout in detail.",
        ].join("\n\n"),
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Rollouts by outcome",
        left: [
          props.stateMachine.metricSucceeded({ label: "Shipped", statistic: "Sum" }),
          props.stateMachine.metricFailed({ label: "Rolled back or failed", statistic: "Sum" }),
          props.stateMachine.metricAborted({ label: "Aborted", statistic: "Sum" }),
          props.stateMachine.metricTimedOut({ label: "Timed out", statistic: "Sum" }),
          props.stateMachine.metricStarted({ label: "Started", statistic: "Sum" }),
        ],
        stacked: false,
        period: Duration.hours(1),
        width: WIDTH,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: "Stage durations (max, ms)",
        left: [
          new cloudwatch.SearchExpression({
            expression: stageMetricSearch(
              props.stageMetricsNamespace,
              props.serviceName,
              "StageDuration",
              "Maximum",
            ),
            label: "",
            period: Duration.minutes(5),
          }),
        ],
        right: [
          new cloudwatch.SearchExpression({
            expression: stageMetricSearch(
              props.stageMetricsNamespace,
              props.serviceName,
              "StageFailed",
              "Sum",
            ),
            label: "failed",
            period: Duration.minutes(5),
          }),
        ],
        width: WIDTH,
        height: HEIGHT,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Latency p95 per version (ms)",
        left: [
          search("Latency", "probe", "p95", "probe"),
          search("LatencyP95", "traffic", "Maximum", "traffic"),
          search("LatencyP95", "prometheus", "Maximum", "prometheus"),
        ],
        leftAnnotations: [threshold(alarms.latencyP95Ms, `latency p95 ${alarms.latencyP95Ms} ms`)],
        width: WIDTH,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: "Time to first token p95 per version (ms)",
        left: [
          search("TtftP95", "traffic", "Maximum", "traffic"),
          search("TtftP95", "prometheus", "Maximum", "prometheus"),
        ],
        leftAnnotations:
          alarms.ttftP95Ms === undefined
            ? []
            : [threshold(alarms.ttftP95Ms, `TTFT p95 ${alarms.ttftP95Ms} ms`)],
        width: WIDTH,
        height: HEIGHT,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        // An error rate per version needs both counts of the same series: they are shown side by side, and
        // the alarm's rate is in the title.
        title: `Errors (left) and requests (right) per version — alarms above ${formatRate(alarms.errorRate)} errors`,
        left: [
          search("Errors", "probe", "Sum", "probe errors"),
          search("Errors", "traffic", "Sum", "traffic errors"),
          search("Errors", "prometheus", "Sum", "prometheus errors"),
        ],
        right: [
          search("Requests", "probe", "Sum", "probe requests"),
          search("Requests", "traffic", "Sum", "traffic requests"),
          search("Requests", "prometheus", "Sum", "prometheus requests"),
        ],
        width: WIDTH,
        height: HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: "Requests waiting and scrape failures per version",
        left: [search("RequestsWaiting", "traffic", "Maximum", "waiting")],
        right: [search("ScrapeFailures", "traffic", "Sum", "pods not scraped")],
        width: WIDTH,
        height: HEIGHT,
      }),
    );
    const logGroupNames = props.rolloutLogGroups.map((group) => group.logGroupName);
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: "Canary weight changes",
        logGroupNames,
        queryLines: [
          "fields @timestamp, model, version, weight, step, steps",
          'filter stage = "CanaryStep" and ispresent(weight)',
          "sort @timestamp desc",
          "limit 100",
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: WIDTH,
        height: HEIGHT,
      }),
      new cloudwatch.LogQueryWidget({
        title: "Rollbacks and their reasons",
        logGroupNames,
        queryLines: [
          "fields @timestamp, stage, model, version, result, reason, answer",
          'filter (stage in ["Rollback", "AlarmRollback"] and result = "rolled back") or (stage = "Command" and status = "done")',
          "sort @timestamp desc",
          "limit 100",
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: WIDTH,
        height: HEIGHT,
      }),
    );
  }
}

/** Every version's `name` from `source`: the exact dimension set the prober and the alarms use. */
export function canaryMetricSearch(
  namespace: string,
  name: CanaryMetricName,
  source: MetricSource,
  statistic: string,
): string {
  const schema = [quoted(namespace), ...CANARY_DIMENSION_KEYS].join(",");
  return `SEARCH('{${schema}} MetricName="${name}" Source="${source}"', '${statistic}')`;
}

/** Each stage's `name` (StageDuration, StageFailed) for one pipeline's functions. */
function stageMetricSearch(namespace: string, service: string, name: string, statistic: string): string {
  return `SEARCH('{${quoted(namespace)},Stage,service} MetricName="${name}" service="${service}"', '${statistic}')`;
}

/** A namespace with characters other than letters and digits is quoted in a search's schema. */
function quoted(namespace: string): string {
  return /^[A-Za-z0-9]+$/.test(namespace) ? namespace : `"${namespace}"`;
}

function formatRate(rate: number): string {
  return `${Math.round(rate * 10000) / 100}%`;
}
