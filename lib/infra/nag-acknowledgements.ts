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

/**
 * `AwsSolutions-IAM5[Resource::<pattern>]` for each resource pattern a grant names (`*` included): object
 * prefixes of the bucket, alarm names, schedules of one group, model packages — each with why.
 */
export function acknowledgeResourcePatterns(
  scope: IConstruct,
  resources: readonly string[],
  reason: string,
): void {
  for (const resource of resources) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceName(scope, resource)}]`,
      reason,
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
