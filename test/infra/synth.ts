// Builds the sample stack the way `npx cdk synth` does — with cdk.json's context — but without bundling
// the Lambda handlers (`aws:cdk:bundling-stacks: []`), so an infra test synthesizes in about a second.
// Also reads IAM out of a template: the statements attached to one function's role.

import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnRole } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { readFileSync } from "node:fs";
import { ModelshipStack } from "../../lib/infra/sample-stack";

const CDK_JSON = new URL("../../cdk.json", import.meta.url);

export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(CDK_JSON, "utf8")) as { context: Record<string, unknown> }).context;
}

/** An app with cdk.json's context (plus `context`) that skips bundling. */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJsonContext(), ...context, "aws:cdk:bundling-stacks": [] } });
}

export function synthSampleStack(context: Record<string, unknown> = {}): {
  stack: ModelshipStack;
  template: Template;
} {
  const stack = new ModelshipStack(testApp(context), "Modelship");
  return { stack, template: Template.fromStack(stack) };
}

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** Every statement of the policies attached to the function's role, actions as a list. */
export function roleStatements(
  template: Template,
  fn: IFunction,
): { actions: string[]; resources: unknown[]; condition?: unknown }[] {
  const stack = Stack.of(fn);
  const roleId = stack.getLogicalId(fn.role?.node.defaultChild as CfnRole);
  const policies = template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: [{ Ref: roleId }] },
  });
  return Object.values(policies).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as Statement[]).map((s) => ({
      actions: ([] as string[]).concat(s.Action),
      resources: ([] as unknown[]).concat(s.Resource),
      ...(s.Condition === undefined ? {} : { condition: s.Condition }),
    })),
  );
}

/** `{"Fn::Join": ["", [{"Fn::GetAtt": [id, "Arn"]}, "/models/*"]]}` → `<id.Arn>/models/*`: readable ARNs. */
export function flatArn(resource: unknown): string {
  if (typeof resource === "string") return resource;
  const node = resource as Record<string, unknown>;
  if (Array.isArray(node["Fn::Join"])) {
    const [delimiter, items] = node["Fn::Join"] as [string, unknown[]];
    return items.map(flatArn).join(delimiter);
  }
  if (Array.isArray(node["Fn::GetAtt"])) return `<${(node["Fn::GetAtt"] as string[]).join(".")}>`;
  if (typeof node.Ref === "string") return `<${node.Ref}>`;
  return JSON.stringify(resource);
}
