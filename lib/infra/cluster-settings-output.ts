// The `ClusterSettings` stack output: what `modelship doctor` checks a cluster against (lib/core/config/cluster-settings.ts
// says what it holds). One output of JSON rather than one per value: the checks need a dozen values and the
// access of up to fourteen functions. It is not exported (an export's value is capped at 1,024 characters:
// aws-cloudformation/cloudformation-coverage-roadmap#685); a plain output's is not, and this one is about 2 KB.

import { CfnOutput, Stack } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { CLUSTER_SETTINGS_OUTPUT, type FunctionClusterAccess } from "../core/config/cluster-settings";
import type { ModelshipFunction } from "../core/state-machine/pipeline-functions";
import { clusterAccessOf } from "./cluster-roles";
import type { ModelPipeline } from "./model-pipeline";

/**
 * Adds the output to the pipeline's stack.
 *
 * @param functionsVpcId the VPC of `clusterNetwork`, when the functions that reach the cluster run in one
 */
export function addClusterSettingsOutput(
  scope: Construct,
  pipeline: ModelPipeline,
  functionsVpcId: string | undefined,
): CfnOutput {
  const { config } = pipeline;
  const functions: Record<string, FunctionClusterAccess> = {};
  for (const [name, fn] of Object.entries(pipeline.functions) as [
    ModelshipFunction,
    ModelPipeline["functions"][ModelshipFunction],
  ][]) {
    const { editNamespace, kubernetesGroups } = clusterAccessOf(name, config);
    if ((!editNamespace && kubernetesGroups.length === 0) || !fn.role) continue;
    functions[name] = { roleArn: fn.role.roleArn, editNamespace, kubernetesGroups: [...kubernetesGroups] };
  }
  const settings = {
    clusterName: config.clusterName,
    namespace: config.namespace,
    gatewayParent: config.gatewayParent,
    gpu: {
      resourceName: config.gpu.resourceName,
      nodeSelector: config.gpu.nodeSelector,
      tolerations: config.gpu.tolerations,
    },
    serviceAccount: config.serving.serviceAccountName,
    gatewayUrl: config.gateway.url,
    manageClusterAccess: pipeline.candidateRole !== undefined,
    ...(pipeline.candidateRole && { candidateRoleArn: pipeline.candidateRole.roleArn }),
    ...(functionsVpcId !== undefined && { functionsVpcId }),
    functions,
  };
  return new CfnOutput(scope, CLUSTER_SETTINGS_OUTPUT, {
    description: "What `modelship doctor` checks the cluster against (JSON)",
    value: Stack.of(scope).toJsonString(settings),
  });
}
