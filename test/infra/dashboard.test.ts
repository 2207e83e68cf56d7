// The pipeline's CloudWatch dashboard as the sample stack synthesizes it: its widgets, the metrics they
// search for (the exact dimension sets the prober and the stage handlers publish), the default thresholds
// drawn on them, and the Logs Insights queries over the fields the stage handlers log. The body is also
// kept as a snapshot, so any change to what users see on it is a reviewed change.

import { beforeAll, describe, expect, it } from "vitest";
import { decisionFields } from "../../lib/aws/lambda/stage-outcome";
import { canaryMetricSearch } from "../../lib/infra/pipeline-dashboard";
import { flatArn, synthSampleStack } from "./synth";

interface Widget {
  readonly type: string;
  readonly properties: {
    readonly title?: string;
    readonly metrics?: unknown[][];
    readonly annotations?: { readonly horizontal?: { readonly value: number; readonly label: string }[] };
    readonly query?: string;
    readonly markdown?: string;
  };
}

let body: { readonly widgets: readonly Widget[] };
let bodyText: string;
let pipelineName: string;
let serviceNames: string[];

beforeAll(() => {
  const { stack, template } = synthSampleStack();
  const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
  expect(dashboards).toHaveLength(1);
  bodyText = flatArn(dashboards[0]?.Properties.DashboardBody);
  body = JSON.parse(bodyText);
  pipelineName = flatArn(dashboards[0]?.Properties.DashboardName);
  serviceNames = [
    ...new Set(
      Object.values(template.findResources("AWS::Lambda::Function")).map(
        (fn) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string,
      ),
    ),
  ];
  expect(stack.pipeline.dashboard).toBeDefined();
});

function widget(titleStart: string): Widget {
  const found = body.widgets.find((w) => w.properties.title?.startsWith(titleStart));
  if (!found)
    throw new Error(`no widget titled "${titleStart}…" in ${body.widgets.map((w) => w.properties.title)}`);
  return found;
}

/** The expressions of a graph widget's metrics (`[{expression, label, period}]` entries). */
function expressions(w: Widget): string[] {
  return (w.properties.metrics ?? []).flatMap((m) =>
    m.flatMap((part) =>
      part && typeof part === "object" && "expression" in part
        ? [(part as { expression: string }).expression]
        : [],
    ),
  );
}

describe("The pipeline's CloudWatch dashboard", () => {
  it("is named after the pipeline, like its bus and state machine", () => {
    expect(pipelineName).toMatch(/^Modelship-ModelPipeline-[0-9A-F]{8}$/);
  });

  it("counts the state machine's executions by outcome", () => {
    const metrics = JSON.stringify(widget("Rollouts by outcome").properties.metrics);
    for (const name of [
      "ExecutionsSucceeded",
      "ExecutionsFailed",
      "ExecutionsAborted",
      "ExecutionsTimedOut",
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toContain("StateMachineArn");
  });

  it("searches this pipeline's stage metrics only: the functions' service is the pipeline's own name", () => {
    expect(serviceNames).toEqual([pipelineName]);
    expect(expressions(widget("Stage durations"))).toEqual([
      `SEARCH('{modelship,Stage,service} MetricName="StageDuration" service="${pipelineName}"', 'Maximum')`,
      `SEARCH('{modelship,Stage,service} MetricName="StageFailed" service="${pipelineName}"', 'Sum')`,
    ]);
  });

  it("draws each version's latency from the prober and from real traffic with the exact dimension set the alarms watch", () => {
    const latency = widget("Latency p95 per version");
    expect(expressions(latency)).toEqual([
      `SEARCH('{modelship,Model,Version,Variant,Source} MetricName="Latency" Source="probe"', 'p95')`,
      `SEARCH('{modelship,Model,Version,Variant,Source} MetricName="LatencyP95" Source="traffic"', 'Maximum')`,
      `SEARCH('{modelship,Model,Version,Variant,Source} MetricName="LatencyP95" Source="prometheus"', 'Maximum')`,
    ]);
  });

  it("marks the stack's default latency threshold as a horizontal annotation", () => {
    const [line] = widget("Latency p95 per version").properties.annotations?.horizontal ?? [];
    expect(line?.value).toBe(2000);
    expect(line?.label).toContain("default");
  });

  it("names the default error-rate threshold with the error and request counts", () => {
    const errors = widget("Errors (left) and requests (right)");
    expect(errors.properties.title).toContain("2%");
    expect(expressions(errors)).toHaveLength(6);
  });

  it("lists canary weight changes and rollbacks with Logs Insights over the fields the stage handlers log", () => {
    const weights = widget("Canary weight changes").properties.query ?? "";
    expect(weights).toContain('filter stage = "CanaryStep" and ispresent(weight)');
    const rollbacks = widget("Rollbacks and their reasons").properties.query ?? "";
    expect(rollbacks).toContain("reason");
    expect(rollbacks).toMatch(/SOURCE '<\w+>'/);
    // The fields the queries use are the ones a stage's answer puts on its log line.
    expect(decisionFields({ step: 2, steps: 4, weight: 50, bakeSeconds: 60 })).toEqual({
      step: 2,
      steps: 4,
      weight: 50,
    });
    expect(
      decisionFields({ result: "rolled back", reason: "alarm latency in ALARM", model: "m", version: "v2" }),
    ).toEqual({ result: "rolled back", reason: "alarm latency in ALARM", model: "m", version: "v2" });
    expect(decisionFields({ status: "done", message: "Rolling back v2" })).toEqual({
      status: "done",
      answer: "Rolling back v2",
    });
  });

  it("quotes a namespace that is not plain letters and digits in a search's schema", () => {
    expect(canaryMetricSearch("team/llm", "Errors", "probe", "Sum")).toBe(
      `SEARCH('{"team/llm",Model,Version,Variant,Source} MetricName="Errors" Source="probe"', 'Sum')`,
    );
  });

  it("keeps its body as reviewed (snapshot)", () => {
    expect(body).toMatchSnapshot();
  });
});
