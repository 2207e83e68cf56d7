import { App, Stack, Validations } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { AwsSolutionsChecks } from "cdk-nag";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { ModelshipStack } from "../../lib/infra/sample-stack";
import { cdkJsonContext, testApp } from "./synth";

const outdir = mkdtempSync(join(tmpdir(), "modelship-nag-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("cdk-nag AwsSolutions on the sample stack", () => {
  const app = new App({ outdir, context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new ModelshipStack(app, "Modelship");
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  it("finds nothing unacknowledged, and the synth that bin/app.ts runs passes its validation", () => {
    const unacknowledged = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
    expect(unacknowledged).toEqual([]);
    expect(() => app.synth()).not.toThrow();
    // Two full rule passes over the stack: over a minute on a loaded 2-core machine.
  }, 240_000);

  it("has a written reason for every acknowledgement", () => {
    const acknowledgements = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [rule, reason] of acknowledgements) {
      expect(reason.length, rule).toBeGreaterThan(40);
    }
  });
});

describe("cdk-nag AwsSolutions on a pipeline with rollout hooks", () => {
  it("finds nothing unacknowledged with allow-listed hook functions and a signing secret", () => {
    const stack = new Stack(testApp(), "Hooks", { env: { account: "123456789012", region: "eu-west-1" } });
    new ModelPipeline(stack, "ModelPipeline", {
      allowedHookFunctions: {
        regression: lambda.Function.fromFunctionArn(
          stack,
          "Regression",
          "arn:aws:lambda:eu-west-1:123456789012:function:team-regression-check",
        ),
      },
      hookSigningSecret: secretsmanager.Secret.fromSecretCompleteArn(
        stack,
        "HookKey",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:modelship-hooks-AbCdEf",
      ),
    });
    const unacknowledged = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
    expect(unacknowledged).toEqual([]);
  });
});
