// Two ModelPipelines in one account (here: one app, two of them in one stack and one in another) must not
// collide on any name, nor act on each other's alarms; and a deleted stack must be possible to create again,
// though its state machine's log group was kept.

import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { flatArn, roleStatements, testApp } from "./synth";
import { canarySpecs } from "../support/canary-alarm-specs";

let pipelines: ModelPipeline[];
let templates: Template[];

beforeAll(() => {
  const app = testApp();
  const platform = new Stack(app, "Platform");
  const other = new Stack(app, "Research");
  pipelines = [
    new ModelPipeline(platform, "Chat", { clusterName: "gpu" }),
    new ModelPipeline(platform, "Embeddings", { clusterName: "gpu" }),
    new ModelPipeline(other, "ModelPipeline", { clusterName: "gpu" }),
  ];
  templates = [Template.fromStack(platform), Template.fromStack(other)];
});

/** Every explicitly named resource of the type, by name (a name with a token flattened to readable text). */
function names(type: string, property: string): string[] {
  return templates.flatMap((template) =>
    Object.values(template.findResources(type)).flatMap((resource) => {
      const name = (resource.Properties as Record<string, unknown> | undefined)?.[property];
      return name === undefined ? [] : [flatArn(name)];
    }),
  );
}

function expectDistinct(values: readonly string[], count: number): void {
  expect(values).toHaveLength(count);
  expect(new Set(values).size).toBe(values.length);
}

describe("Two ModelPipelines in one account", () => {
  it("name their buses, state machines, log groups and schedule groups apart", () => {
    expectDistinct(names("AWS::Events::EventBus", "Name"), 3);
    expectDistinct(names("AWS::StepFunctions::StateMachine", "StateMachineName"), 3);
    expectDistinct(names("AWS::Scheduler::ScheduleGroup", "Name"), 3);
    expectDistinct(names("AWS::CloudWatch::Dashboard", "DashboardName"), 3);
    const stateMachineLogs = names("AWS::Logs::LogGroup", "LogGroupName").filter((n) =>
      n.startsWith("/aws/vendedlogs/states/"),
    );
    expectDistinct(stateMachineLogs, 3);
    expect(names("AWS::StepFunctions::StateMachine", "StateMachineName")).toContain(
      "Platform-Chat-CD5D5893-pipeline",
    );
  });

  it("keep readable names: the stack and the construct, and a hash of the path", () => {
    for (const pipeline of pipelines) {
      const stack = Stack.of(pipeline).stackName;
      expect(pipeline.config.canaryMetrics.alarmPrefix).toMatch(
        new RegExp(`^${stack}-${pipeline.node.id}-[0-9A-F]{8}-$`),
      );
    }
  });

  it("give the kept log group of a stack's state machine a name new with each stack, so a deleted stack can be created again", () => {
    const [template] = templates;
    const logs = Object.values(template?.findResources("AWS::Logs::LogGroup") ?? {}).filter(
      (r) =>
        r.Properties.LogGroupName && flatArn(r.Properties.LogGroupName).startsWith("/aws/vendedlogs/states/"),
    );
    expect(logs).toHaveLength(2);
    for (const log of logs) {
      expect(JSON.stringify(log.Properties.LogGroupName)).toContain('{"Ref":"AWS::StackId"}');
      expect(log.DeletionPolicy).toBe("Retain");
    }
  });

  it("act each on its own alarms: no alarm rule matches another pipeline's alarms, nor may its functions touch them", () => {
    const prefixes = pipelines.map((p) => p.config.canaryMetrics.alarmPrefix);
    expectDistinct(prefixes, 3);
    const alarmsOf = (prefix: string) => canarySpecs({ stableVersion: "v1", alarmPrefix: prefix }).alarmNames;
    pipelines.forEach((pipeline, index) => {
      const template = templates[index < 2 ? 0 : 1] as Template;
      const rule =
        template.toJSON().Resources[
          Stack.of(pipeline).getLogicalId(pipeline.alarmRollbackRule.node.defaultChild as never)
        ];
      const [matched] = rule.Properties.EventPattern.detail.alarmName as [{ prefix: string }];
      expect(matched.prefix).toBe(prefixes[index]);
      const grants = roleStatements(template, pipeline.functions.Rollback)
        .filter((s) => s.actions.includes("cloudwatch:DeleteAlarms"))
        .flatMap((s) => s.resources.map(flatArn));
      expect(grants).toEqual([expect.stringMatching(new RegExp(`:alarm:${prefixes[index]}\\*$`))]);
      prefixes.forEach((otherPrefix, otherIndex) => {
        const matches = alarmsOf(otherPrefix).filter((name) => name.startsWith(matched.prefix));
        expect(matches.length > 0, `${prefixes[index]} on ${otherPrefix}`).toBe(otherIndex === index);
      });
    });
  });
});
