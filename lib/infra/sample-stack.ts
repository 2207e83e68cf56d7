// The sample stack `npx cdk deploy` deploys: one ModelPipeline configured from the `modelship` key of the
// CDK context (cdk.json, or `-c modelship='{"clusterName":"gpu"}'`). No lookups and no environment, so
// `npx cdk synth` works offline, with no AWS account. Its outputs name what the CLI and users reach: the
// bucket to upload to, the bus for events and commands, the rollout table and the state machine — and the
// cluster settings `modelship doctor` checks the cluster against. With the
// `modelshipClusterVpc` context, the functions that reach the cluster run in that VPC (a private cluster
// works), and an output names their security groups for the platform team's rules on the cluster's side. With `modelshipCommandPrincipals`, those roles
// and users may send commands on the bus (nobody else may).

import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { formatFinding } from "../core/findings";
import { resolveStackConfig } from "../core/resolution/stack-config";
import { clusterNetworkFromContext } from "./cluster-network-context";
import { addClusterSettingsOutput } from "./cluster-settings-output";
import { ModelPipeline, type ModelPipelineProps } from "./model-pipeline";

const CONFIG_CONTEXT_KEY = "modelship";
/** `false` when the cluster's access entries and Pod Identity are managed elsewhere (`-c modelshipManageClusterAccess=false`). */
const MANAGE_CLUSTER_ACCESS_CONTEXT_KEY = "modelshipManageClusterAccess";
/** The cluster's VPC for the functions that reach it, by ids: `-c modelshipClusterVpc='{"vpcId":"vpc-…",…}'` (docs/eks.md). */
const CLUSTER_VPC_CONTEXT_KEY = "modelshipClusterVpc";
/** The former name of CLUSTER_VPC_CONTEXT_KEY, when only the load workers ran in the VPC: refused, with the new name. */
const FORMER_VPC_CONTEXT_KEY = "modelshipLoadTestingVpc";
/** Who may send commands: role or user ARNs, `-c modelshipCommandPrincipals='["arn:aws:iam::…:role/…"]'`. */
const COMMAND_PRINCIPALS_CONTEXT_KEY = "modelshipCommandPrincipals";
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/;

export class ModelshipStack extends Stack {
  readonly pipeline: ModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const source = `the CDK context "${CONFIG_CONTEXT_KEY}" (cdk.json)`;
    const given = contextValue(this, source);
    const { config, findings } = resolveStackConfig(given, source);
    if (!config) {
      throw new Error(
        [`The stack config in ${source} is invalid:`, ...findings.map(formatFinding)].join("\n"),
      );
    }
    const manageClusterAccess = this.node.tryGetContext(MANAGE_CLUSTER_ACCESS_CONTEXT_KEY) as unknown;
    if (
      manageClusterAccess !== undefined &&
      typeof manageClusterAccess !== "boolean" &&
      manageClusterAccess !== "false" &&
      manageClusterAccess !== "true"
    ) {
      throw new Error(
        `The CDK context "${MANAGE_CLUSTER_ACCESS_CONTEXT_KEY}" must be true or false, found ${JSON.stringify(manageClusterAccess)}.`,
      );
    }
    if (this.node.tryGetContext(FORMER_VPC_CONTEXT_KEY) !== undefined) {
      throw new Error(
        `The CDK context "${FORMER_VPC_CONTEXT_KEY}" is now "${CLUSTER_VPC_CONTEXT_KEY}": every function that reaches the ` +
          "cluster runs in that VPC, not only the load workers. Rename the key; its value is the same.",
      );
    }
    const clusterNetwork = clusterNetworkFromContext(
      this,
      this.node.tryGetContext(CLUSTER_VPC_CONTEXT_KEY),
      `The CDK context "${CLUSTER_VPC_CONTEXT_KEY}"`,
    );
    const commandPrincipals = commandPrincipalsFromContext(this);
    // What the context gives, checked above: the construct fills in the rest, the names it derives included.
    this.pipeline = new ModelPipeline(this, "ModelPipeline", {
      ...(given as ModelPipelineProps | undefined),
      ...(manageClusterAccess === undefined
        ? {}
        : { manageClusterAccess: manageClusterAccess === true || manageClusterAccess === "true" }),
      ...(clusterNetwork && { clusterNetwork }),
      ...(commandPrincipals.length > 0 && { commandPrincipals }),
    });
    const { bucket, eventBus, rolloutTable, stateMachine, clusterNetworkSecurityGroups } = this.pipeline;
    new CfnOutput(this, "BucketName", {
      description: "Upload models here: models/<name>/<version>/…, the manifest last",
      value: bucket.bucketName,
    });
    new CfnOutput(this, "EventBusName", {
      description: "modelship's events, and the commands it takes (modelship rollback|promote|abort --bus)",
      value: eventBus.eventBusName,
    });
    new CfnOutput(this, "RolloutTableName", {
      description: "What serves each model (modelship status --table, or MODELSHIP_TABLE)",
      value: rolloutTable.tableName,
    });
    new CfnOutput(this, "StateMachineArn", {
      description: "The rollout pipeline: one execution per upload",
      value: stateMachine.stateMachineArn,
    });
    if (clusterNetworkSecurityGroups.length > 0) {
      new CfnOutput(this, "ClusterNetworkSecurityGroups", {
        description:
          "The functions in the cluster's VPC: allow these on the cluster API (443) and the candidates' serving port (docs/eks.md)",
        value: clusterNetworkSecurityGroups.map((group) => group.securityGroupId).join(","),
      });
    }
    addClusterSettingsOutput(this, this.pipeline, clusterNetwork?.vpc.vpcId);
  }
}

/** The roles and users the context lets send commands; none when the key is absent. Throws naming every bad ARN. */
function commandPrincipalsFromContext(scope: Construct): iam.ArnPrincipal[] {
  const source = `The CDK context "${COMMAND_PRINCIPALS_CONTEXT_KEY}"`;
  let value: unknown = scope.node.tryGetContext(COMMAND_PRINCIPALS_CONTEXT_KEY);
  if (value === undefined) return [];
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new Error(`${source} is a string that is not JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const arns: unknown[] = Array.isArray(value) ? value : [value];
  const bad = arns.filter((arn) => typeof arn !== "string" || !PRINCIPAL_ARN.test(arn));
  if (!Array.isArray(value) || bad.length > 0) {
    throw new Error(
      `${source} must be a list of IAM role or user ARNs (["arn:aws:iam::123456789012:role/rollout-operators"]); ` +
        `these are not: ${bad.map((arn) => JSON.stringify(arn)).join(", ") || JSON.stringify(value)}.`,
    );
  }
  return (arns as string[]).map((arn) => new iam.ArnPrincipal(arn));
}

/** The context value; a `-c modelship=…` on the command line arrives as a JSON string. */
function contextValue(scope: Construct, source: string): unknown {
  const value: unknown = scope.node.tryGetContext(CONFIG_CONTEXT_KEY);
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`${source} is a string that is not JSON: ${(error as Error).message}`, { cause: error });
  }
}
