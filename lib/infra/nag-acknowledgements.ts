// The cdk-nag (AwsSolutions) findings ModelPipeline accepts on purpose, each with its reason. They are
// recorded through CDK's own `Validations.of(...).acknowledge`, which cdk-nag 3 reads, on the construct that
// causes them — so a stack using ModelPipeline gets a clean report without acknowledging anything itself.

import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** `AwsSolutions-IAM5[Resource::*]`: actions that have no resource-level permissions at all. */
export function acknowledgeUnscopableActions(scope: IConstruct, actions: string): void {
  Validations.of(scope).acknowledge({
    id: "AwsSolutions-IAM5[Resource::*]",
    reason: `${actions} support no resource-level permissions: IAM accepts only "*" for them.`,
  });
}

/** `AwsSolutions-IAM5[Resource::<bucket>/<prefix>*]`: object access limited to a key prefix. */
export function acknowledgeObjectPrefixes(scope: IConstruct, objectArns: readonly string[]): void {
  for (const arn of objectArns) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceName(scope, arn)}]`,
      reason:
        "Access to the objects under one key prefix of the model bucket: the objects are named by users " +
        "(models, versions, reports), so their keys cannot be listed in the policy in advance.",
    });
  }
}

/** A resource ARN as cdk-nag names it in a finding: tokens resolved, `Fn::GetAtt` as `<Id.Attr>`, `Ref` as `<Id>`. */
function nagResourceName(scope: IConstruct, resource: string): string {
  return flatten(Stack.of(scope).resolve(resource));
}

function flatten(node: unknown): string {
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/\}/g, ">");
  if (node && typeof node === "object") {
    const fn = node as Record<string, unknown>;
    if (Array.isArray(fn["Fn::Join"])) {
      const [delimiter, items] = fn["Fn::Join"] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (Array.isArray(fn["Fn::GetAtt"])) {
      const [resource, attribute] = fn["Fn::GetAtt"] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if ("Ref" in fn) return `<${flatten(fn.Ref)}>`;
  }
  return JSON.stringify(node);
}
