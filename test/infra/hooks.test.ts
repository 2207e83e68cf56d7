// Rollout hooks on AWS: the allow-listed functions are the only ones RunHooks may invoke, the signing secret
// the only one it may read, no other function gets either right, and the functions learn the allow-list (and
// RunHooks alone the secret) from their environment.

import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { describe, expect, it } from "vitest";
import { LAMBDA_ENVIRONMENT } from "../../lib/aws/lambda/environment";
import { MAX_HOOK_POINT_SECONDS } from "../../lib/core/gates/hooks";
import type { ModelshipFunction } from "../../lib/core/state-machine/pipeline-functions";
import { ModelPipeline } from "../../lib/infra/model-pipeline";
import { flatArn, roleStatements, testApp } from "./synth";

const REGRESSION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:team-regression-check";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:modelship-hooks-AbCdEf";

function synth(withHooks: boolean) {
  const stack = new Stack(testApp(), "Hooks", { env: { account: "123456789012", region: "eu-west-1" } });
  const pipeline = new ModelPipeline(
    stack,
    "ModelPipeline",
    withHooks
      ? {
          allowedHookFunctions: {
            regression: lambda.Function.fromFunctionArn(stack, "Regression", REGRESSION_ARN),
          },
          hookSigningSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, "HookKey", SECRET_ARN),
        }
      : {},
  );
  return { pipeline, template: Template.fromStack(stack) };
}

function grantsOf(template: Template, pipeline: ModelPipeline, name: ModelshipFunction, service: string) {
  return roleStatements(template, pipeline.functions[name])
    .filter((s) => s.actions.some((a) => a.startsWith(`${service}:`)))
    .map((s) => ({ actions: s.actions, resources: s.resources.map(flatArn) }));
}

function environmentOf(template: Template, pipeline: ModelPipeline, name: ModelshipFunction) {
  const id = Stack.of(pipeline).getLogicalId(pipeline.functions[name].node.defaultChild as never);
  return template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
}

describe("ModelPipeline: rollout hooks", () => {
  it("lets RunHooks invoke exactly the allow-listed functions and read exactly the signing secret", () => {
    const { pipeline, template } = synth(true);

    expect(grantsOf(template, pipeline, "RunHooks", "lambda")).toEqual([
      { actions: ["lambda:InvokeFunction"], resources: [REGRESSION_ARN] },
    ]);
    expect(grantsOf(template, pipeline, "RunHooks", "secretsmanager")).toEqual([
      { actions: ["secretsmanager:GetSecretValue"], resources: [SECRET_ARN] },
    ]);
  });

  it("gives no other function either right", () => {
    const { pipeline, template } = synth(true);

    for (const name of Object.keys(pipeline.functions) as ModelshipFunction[]) {
      if (name === "RunHooks") continue;
      expect([name, grantsOf(template, pipeline, name, "lambda")]).toEqual([name, []]);
      expect([name, grantsOf(template, pipeline, name, "secretsmanager")]).toEqual([name, []]);
    }
  });

  it("grants RunHooks nothing to invoke or read on a stack without hooks", () => {
    const { pipeline, template } = synth(false);

    expect(grantsOf(template, pipeline, "RunHooks", "lambda")).toEqual([]);
    expect(grantsOf(template, pipeline, "RunHooks", "secretsmanager")).toEqual([]);
    expect(pipeline.config.hooks).toEqual({ functions: [], urlHooks: false, loopbackHttp: false });
  });

  it("puts the allow-list in the config, and the secret's ARN in RunHooks' environment only", () => {
    const { pipeline, template } = synth(true);

    expect(pipeline.config.hooks).toEqual({
      functions: [{ name: "regression", arn: REGRESSION_ARN }],
      urlHooks: true,
      loopbackHttp: false,
    });
    expect(environmentOf(template, pipeline, "RunHooks")[LAMBDA_ENVIRONMENT.hookSigningSecretArn]).toBe(
      SECRET_ARN,
    );
    for (const name of ["Prepare", "CheckCanary", "Promote"] as const) {
      expect(
        environmentOf(template, pipeline, name)[LAMBDA_ENVIRONMENT.hookSigningSecretArn],
      ).toBeUndefined();
    }
  });

  it("runs RunHooks longer than one point's hooks may take together", () => {
    const { pipeline, template } = synth(false);
    const id = Stack.of(pipeline).getLogicalId(pipeline.functions.RunHooks.node.defaultChild as never);

    expect(template.toJSON().Resources[id].Properties.Timeout).toBeGreaterThan(MAX_HOOK_POINT_SECONDS);
  });
});
