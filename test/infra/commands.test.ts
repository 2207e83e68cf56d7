// Commands cannot be smuggled onto the bus: the rules take commands only from the command sources, and the
// bus's policy lets only the pipeline's command principals put them, while modelship's own events go through.
// The Model Registry's approval reaches Command as SageMaker sends it (AWS's documented example of the event).

import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { COMMAND_DETAIL_TYPES, COMMAND_SOURCES, EMITTED_DETAIL_TYPES } from "../../lib/core/events/events";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { modelPackageStateChange } from "../support/sagemaker-events";
import { synthSampleStack, testApp } from "./synth";

function synth(props: ConstructorParameters<typeof ModelPipeline>[2] = {}) {
  const stack = new Stack(testApp(), "Commands");
  const pipeline = new ModelPipeline(stack, "ModelPipeline", props);
  return { stack, pipeline, template: Template.fromStack(stack) };
}

/**
 * Whether an EventBridge pattern matches an event, for the parts of the pattern language the rules use: nested
 * fields, lists of values (any equal; an event's list matches when one element does) and `exists`.
 */
function patternMatches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([field, wanted]) => {
    const value = event[field];
    if (!Array.isArray(wanted)) {
      return (
        !!value &&
        typeof value === "object" &&
        patternMatches(wanted as Record<string, unknown>, value as never)
      );
    }
    return wanted.some((allowed: unknown) => {
      if (allowed && typeof allowed === "object") {
        const { exists, ...other } = allowed as { exists?: boolean };
        if (typeof exists !== "boolean" || Object.keys(other).length > 0) {
          throw new Error(`patternMatches: ${JSON.stringify(allowed)} is not supported here`);
        }
        return (value !== undefined) === exists;
      }
      return ([] as unknown[]).concat(value).includes(allowed);
    });
  });
}

function busPolicy(template: Template) {
  const policies = Object.values(template.findResources("AWS::Events::EventBusPolicy"));
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties as { EventBusName: unknown; Statement: Record<string, unknown> };
}

describe("ModelPipeline: the commands it accepts", () => {
  it("takes commands only from the CLI's source and the other senders' source, never from modelship's own events", () => {
    const { stack, pipeline, template } = synth();
    for (const rule of [pipeline.rolloutRequestedRule, pipeline.commandsRule]) {
      const resource = template.toJSON().Resources[stack.getLogicalId(rule.node.defaultChild as never)];
      expect(resource.Properties.EventPattern.source).toEqual(["modelship.cli", "modelship.commands"]);
    }
    expect(Object.values(COMMAND_SOURCES)).not.toContain("modelship");
  });

  it("denies putting a command on its bus to every principal but the command principals", () => {
    const operators = iam.Role.fromRoleArn(
      new Stack(testApp(), "Elsewhere"),
      "Operators",
      "arn:aws:iam::123456789012:role/rollout-operators",
    );
    const { stack, pipeline, template } = synth({
      commandPrincipals: [operators, new iam.ArnPrincipal("arn:aws:iam::123456789012:user/oncall")],
    });
    const policy = busPolicy(template);
    expect(policy.EventBusName).toEqual({
      Ref: stack.getLogicalId(pipeline.eventBus.node.defaultChild as never),
    });
    expect(policy.Statement).toMatchObject({
      Effect: "Deny",
      Principal: { AWS: "*" },
      Action: "events:PutEvents",
      Condition: {
        StringEquals: { "events:detail-type": [...COMMAND_DETAIL_TYPES] },
        ArnNotEquals: {
          "aws:PrincipalArn": [
            "arn:aws:iam::123456789012:role/rollout-operators",
            "arn:aws:iam::123456789012:user/oncall",
          ],
        },
      },
    });
  });

  it("lets nobody put a command when no command principal is named", () => {
    const policy = busPolicy(synth().template);
    expect(policy.Statement.Condition).toEqual({
      StringEquals: { "events:detail-type": [...COMMAND_DETAIL_TYPES] },
    });
  });

  it("leaves modelship's own events out of the deny: none of them is a command", () => {
    for (const emitted of EMITTED_DETAIL_TYPES) {
      expect(COMMAND_DETAIL_TYPES as readonly string[]).not.toContain(emitted);
    }
  });

  it("restricts a bus it was given the same way", () => {
    const stack = new Stack(testApp(), "Given");
    const platform = new events.EventBus(stack, "Platform", { eventBusName: "platform" });
    new ModelPipeline(stack, "ModelPipeline", { existingEventBus: platform });
    expect(busPolicy(Template.fromStack(stack)).Statement).toMatchObject({ Effect: "Deny" });
  });

  it("takes the command principals of the sample stack from the context, and refuses what is not a role or user ARN", () => {
    const { template } = synthSampleStack({
      modelshipCommandPrincipals: '["arn:aws:iam::123456789012:role/rollout-operators"]',
    });
    expect(busPolicy(template).Statement).toMatchObject({
      Condition: {
        ArnNotEquals: { "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/rollout-operators"] },
      },
    });
    expect(() => synthSampleStack({ modelshipCommandPrincipals: ["rollout-operators"] })).toThrow(
      /modelshipCommandPrincipals" must be a list of IAM role or user ARNs .*these are not: "rollout-operators"/,
    );
  });

  describe("the Model Registry's approval button", () => {
    const { stack, pipeline, template } = synth();
    const rule =
      template.toJSON().Resources[
        stack.getLogicalId(pipeline.registryApprovalRule.node.defaultChild as never)
      ];
    const arn = "arn:aws:sagemaker:us-east-2:123456789012:model-package/llama/2";

    it("sends a package set to Approved or Rejected, as AWS's example of the event has it, to Command", () => {
      expect(rule.Properties.EventBusName).toBeUndefined();
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({
          Arn: {
            "Fn::GetAtt": [stack.getLogicalId(pipeline.functions.Command.node.defaultChild as never), "Arn"],
          },
        }),
      ]);
      for (const status of ["Approved", "Rejected"]) {
        expect(patternMatches(rule.Properties.EventPattern, modelPackageStateChange({ arn, status }))).toBe(
          true,
        );
      }
    });

    it("leaves a package set back to PendingManualApproval alone", () => {
      const pending = modelPackageStateChange({ arn, status: "PendingManualApproval" });
      expect(patternMatches(rule.Properties.EventPattern, pending)).toBe(false);
    });
  });
});
