import { describe, expect, it } from "vitest";
import { type ClusterSettings, parseClusterSettings } from "../../lib/core/config/cluster-settings";
import type { ModelshipStack } from "../../lib/infra/sample-stack";
import { synthSampleStack } from "./synth";

const VPC_CONTEXT = {
  vpcId: "vpc-0123456789abcdef0",
  availabilityZones: ["us-east-1a"],
  privateSubnetIds: ["subnet-0aaaaaaaaaaaaaaa1"],
};

/**
 * The output's value as CloudFormation would give it: each `Fn::GetAtt [<role>, Arn]` becomes a role ARN named
 * after the role's logical id, so a test can tell which role it is.
 */
function deployedValue(value: unknown): string {
  if (typeof value === "string") return value;
  const join = (value as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (join) return join[1].map(deployedValue).join(join[0]);
  const getAtt = (value as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
  if (getAtt?.[1] === "Arn") return `arn:aws:iam::123456789012:role/${getAtt[0]}`;
  throw new Error(`unexpected token in the output: ${JSON.stringify(value)}`);
}

function clusterSettingsOf(context: Record<string, unknown> = {}): {
  stack: ModelshipStack;
  settings: ClusterSettings;
} {
  const { stack, template } = synthSampleStack(context);
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
  const parsed = parseClusterSettings(deployedValue(outputs["ClusterSettings"]?.Value));
  if ("problems" in parsed) throw new Error(parsed.problems.join("; "));
  return { stack, settings: parsed.settings };
}

const roleArnOf = (stack: ModelshipStack, role: unknown) =>
  `arn:aws:iam::123456789012:role/${stack.getLogicalId(role as never)}`;

describe("The sample stack's ClusterSettings output", () => {
  it("carries the cluster-facing config, the candidates' role and each cluster function's role and access, as the CLI reads them", () => {
    const { stack, settings } = clusterSettingsOf();
    const { pipeline } = stack;

    expect(settings).toMatchObject({
      clusterName: "gpu-inference",
      namespace: "models",
      gatewayParent: { name: "inference-gateway", namespace: "gateway", sectionName: "https" },
      gpu: {
        resourceName: "nvidia.com/gpu",
        nodeSelector: { "karpenter.k8s.aws/instance-gpu-name": "h100" },
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      },
      serviceAccount: "modelship-candidate",
      gatewayUrl: "",
      manageClusterAccess: true,
      candidateRoleArn: roleArnOf(stack, pipeline.candidateRole!.node.defaultChild),
    });
    expect(settings.functionsVpcId).toBeUndefined();
    expect(settings.functions["DeployCandidate"]).toEqual({
      roleArn: roleArnOf(stack, pipeline.functions.DeployCandidate.role!.node.defaultChild),
      editNamespace: true,
      kubernetesGroups: ["modelship-scalers", "modelship-capacity-readers"],
    });
    // CanaryStep moves routes, and scales and reads replicas for the capacity plan.
    expect(settings.functions["CanaryStep"]?.editNamespace).toBe(false);
    expect([...(settings.functions["CanaryStep"]?.kubernetesGroups ?? [])].sort()).toEqual([
      "modelship-candidate-readers",
      "modelship-routes",
      "modelship-scalers",
    ]);
    // Exactly the functions with an access entry: those that never reach the cluster are left out.
    expect(Object.keys(settings.functions).sort()).toEqual(Object.keys(pipeline.clusterAccessEntries).sort());
  });

  it("names the functions' VPC with -c modelshipClusterVpc", () => {
    expect(clusterSettingsOf({ modelshipClusterVpc: VPC_CONTEXT }).settings.functionsVpcId).toBe(
      "vpc-0123456789abcdef0",
    );
  });

  it("says the stack manages no cluster access, and names no candidate role, with -c modelshipManageClusterAccess=false", () => {
    const { settings } = clusterSettingsOf({ modelshipManageClusterAccess: false });

    expect(settings.manageClusterAccess).toBe(false);
    expect(settings.candidateRoleArn).toBeUndefined();
    // The functions still need the same access: granted elsewhere, checked the same way.
    expect(settings.functions["Cleanup"]).toMatchObject({
      editNamespace: true,
      kubernetesGroups: ["modelship-routes"],
    });
  });
});
