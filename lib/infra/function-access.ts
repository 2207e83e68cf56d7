// What each Lambda function may do on AWS, derived — never written by hand — from the port methods its stage
// declares (lib/pipeline/function-port-use.ts) and the IAM actions each method of the AWS adapters sends
// (lib/aws/port-actions.ts, checked against the adapters by test/unit/aws/port-actions.test.ts): a function
// gets exactly the actions of the methods it calls, each on the resources it reaches — the bucket's areas its
// stage declared, the rollout table, this pipeline's bus, state machine, cluster, alarms and schedules. The
// cluster's side (Kubernetes rights) is lib/infra/cluster-roles.ts.

import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { type IamAction, PORT_ACTIONS, SERVING_BUCKET_AREA } from "../aws/port-actions";
import type { ModelshipFunction } from "../core/state-machine/pipeline-functions";
import { FUNCTION_PORT_USE } from "../pipeline/function-port-use";
import { type BucketArea, type PortName, type PortUse, usedMembers } from "../pipeline/port-use";

/** The names of the prober's schedules (`modelship-<model>-<version>`) in the pipeline's own schedule group. */
export const SCHEDULE_NAME_PREFIX = "modelship-";

/** An action a function needs, and for a bucket action the area of the bucket it is needed in. */
export interface Need {
  readonly action: IamAction;
  readonly area?: BucketArea;
}

/** Every action the port use needs: each used method's row of PORT_ACTIONS, bucket actions by area. */
export function needsOf(use: PortUse): Need[] {
  const needs: Need[] = [];
  for (const { port, members } of usedMembers(use)) {
    const rows = PORT_ACTIONS[port] as Readonly<Record<string, readonly IamAction[]>>;
    for (const member of members) {
      for (const action of rows[member] ?? []) {
        if (!action.startsWith("s3:")) needs.push({ action });
        else for (const area of bucketAreas(use, port, member)) needs.push({ action, area });
      }
    }
  }
  return needs;
}

/** The areas a bucket action of `port.member` reaches: those the stage declared, or where the adapter looks. */
function bucketAreas(use: PortUse, port: PortName, member: string): readonly BucketArea[] {
  if (port === "objects") return use.objects?.[member as keyof NonNullable<PortUse["objects"]>] ?? [];
  return [SERVING_BUCKET_AREA];
}

/** The function's port use, for the construct's other derived settings (its environment). */
export function usesMember(name: ModelshipFunction, port: PortName, member: string): boolean {
  return usedMembers(FUNCTION_PORT_USE[name]).some(
    (used) => used.port === port && used.members.includes(member),
  );
}

/** The resources the actions refer to. */
export interface AccessTargets {
  readonly bucket: IBucket;
  readonly tableArn: string;
  readonly tableKey: IKey;
  readonly eventBusArn: string;
  readonly stateMachineArn: string;
  readonly clusterArn: string;
  /** `arn:…:cloudwatch:<region>:<account>:alarm:<prefix>*` */
  readonly alarmsArn: string;
  /** `arn:…:scheduler:<region>:<account>:schedule/<group>/<prefix>*` */
  readonly proberSchedulesArn: string;
  /** The role EventBridge Scheduler invokes the prober with. */
  readonly schedulerRoleArn: string;
  /** `arn:…:sagemaker:<region>:<account>:model-package-group/*` */
  readonly modelPackageGroupsArn: string;
  /** `arn:…:sagemaker:<region>:<account>:model-package/*` */
  readonly modelPackagesArn: string;
  /** The AMP workspace the stack's Prometheus is (`canaryMetrics.prometheus`), if it is one. */
  readonly prometheusWorkspaceArn?: string;
  /** The allow-listed hook functions (`allowedHookFunctions`): the only functions RunHooks may invoke. */
  readonly hookFunctionArns: readonly string[];
  /** The secret that signs URL hooks (`hookSigningSecret`), if the stack has one. */
  readonly hookSigningSecretArn?: string;
}

/** An IAM statement, and why it names resources by a pattern or `*` when it does (cdk-nag asks for a reason). */
export interface Grant {
  readonly statement: PolicyStatement;
  readonly patternReason?: string;
}

/** The key patterns of each area of the bucket. */
const AREA_OBJECTS: Readonly<Record<BucketArea, string>> = {
  manifests: "models/*/*/modelship.*",
  models: "models/*",
  evals: "evals/*",
  prompts: "prompts/*",
  reports: "reports/*",
};
/** The listing prefixes of each area (`s3:prefix`). */
const AREA_PREFIXES: Readonly<Record<BucketArea, string>> = { ...AREA_OBJECTS, manifests: "models/*" };

const OBJECT_PREFIX_REASON =
  "Access to the objects under one key prefix of the model bucket: the objects are named by users " +
  "(models, versions, reports), so their keys cannot be listed in the policy in advance.";
const ALARM_PREFIX_REASON =
  "The alarms this pipeline creates for each rollout, all named <alarm prefix><model>-<version>-…: versions " +
  "arrive with uploads, so the names cannot be listed in advance; the prefix keeps every other alarm out of reach.";
const COMPOSITE_READ_REASON =
  "CloudWatch returns composite alarms from DescribeAlarms only to a grant on '*' (API reference), and " +
  "GetMetricData has no resource-level permissions; both only read.";
const SCHEDULE_REASON =
  "The prober's schedules, one per model version (<alarm prefix><model>-<version>), inside the stack's own " +
  "schedule group: versions arrive with uploads, and the pattern covers that group and nothing else.";
const MODEL_PACKAGE_REASON =
  "Model package groups are named after the models uploaded to the bucket and versions are numbered by " +
  "SageMaker, so they cannot be listed in advance; the grant is limited to this account and region.";
const MODEL_PACKAGE_LIST_REASON =
  "ListModelPackages has no resource-level permissions (IAM accepts only '*'); it only reads, to find a " +
  "rollout's version in its model's package group.";

/** Where an action applies: its resources, the reason for a pattern, its conditions. */
interface Placement {
  readonly resources: readonly string[];
  readonly patternReason?: string;
  readonly conditions?: Record<string, unknown>;
}

/**
 * Where each action (other than the bucket's, placed by area) applies; undefined for an action this stack's
 * config gives nothing to act on (an AMP query when its Prometheus is not an AMP workspace): not granted.
 */
function placementOf(action: IamAction, targets: AccessTargets): Placement | undefined {
  const [service] = action.split(":");
  switch (service) {
    case "dynamodb":
      return { resources: [targets.tableArn] };
    case "events":
      return { resources: [targets.eventBusArn] };
    case "states":
      return { resources: [targets.stateMachineArn] };
    case "eks":
      return { resources: [targets.clusterArn] };
    case "scheduler":
      return { resources: [targets.proberSchedulesArn], patternReason: SCHEDULE_REASON };
    case "iam":
      return {
        resources: [targets.schedulerRoleArn],
        conditions: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
      };
    case "cloudwatch":
      return action === "cloudwatch:DescribeAlarms" || action === "cloudwatch:GetMetricData"
        ? { resources: ["*"], patternReason: COMPOSITE_READ_REASON }
        : { resources: [targets.alarmsArn], patternReason: ALARM_PREFIX_REASON };
    case "sagemaker":
      if (action === "sagemaker:ListModelPackages") {
        return { resources: ["*"], patternReason: MODEL_PACKAGE_LIST_REASON };
      }
      if (action.endsWith("ModelPackageGroup")) {
        return { resources: [targets.modelPackageGroupsArn], patternReason: MODEL_PACKAGE_REASON };
      }
      // A version is created in its group: CreateModelPackage is authorized on both.
      return {
        resources:
          action === "sagemaker:CreateModelPackage"
            ? [targets.modelPackageGroupsArn, targets.modelPackagesArn]
            : [targets.modelPackagesArn],
        patternReason: MODEL_PACKAGE_REASON,
      };
    case "aps":
      return targets.prometheusWorkspaceArn ? { resources: [targets.prometheusWorkspaceArn] } : undefined;
    case "lambda":
      return targets.hookFunctionArns.length > 0 ? { resources: targets.hookFunctionArns } : undefined;
    case "secretsmanager":
      return targets.hookSigningSecretArn ? { resources: [targets.hookSigningSecretArn] } : undefined;
    default:
      throw new Error(`function-access: no resource is known for ${action}; add it to placementOf.`);
  }
}

/** The grants of exactly these needs: no action wildcards, resource patterns only with a reason. */
export function grantsOf(needs: readonly Need[], targets: AccessTargets): Grant[] {
  const { bucket } = targets;
  const placed = new Map<string, { placement: Placement; actions: Set<string> }>();
  const place = (action: string, placement: Placement) => {
    const key = JSON.stringify([placement.resources, placement.conditions ?? null]);
    const entry = placed.get(key) ?? { placement, actions: new Set<string>() };
    entry.actions.add(action);
    placed.set(key, entry);
  };
  // In the layout's order, whatever order the stage declared them in.
  const areasOf = (actions: readonly string[]) =>
    (Object.keys(AREA_OBJECTS) as BucketArea[]).filter((area) =>
      needs.some((n) => actions.includes(n.action) && n.area === area),
    );
  // Within models/*, a manifest pattern says nothing more.
  const objectPatterns = (areas: readonly BucketArea[]) =>
    areas.filter((a) => !(a === "manifests" && areas.includes("models"))).map((a) => AREA_OBJECTS[a]);

  for (const action of ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"] as const) {
    const patterns = objectPatterns(areasOf([action]));
    if (patterns.length > 0) {
      place(action, {
        resources: patterns.map((pattern) => bucket.arnForObjects(pattern)),
        patternReason: OBJECT_PREFIX_REASON,
      });
    }
  }
  const listed = [...new Set(areasOf(["s3:ListBucket"]).map((area) => AREA_PREFIXES[area]))];
  if (listed.length > 0) {
    place("s3:ListBucket", {
      resources: [bucket.bucketArn],
      conditions: { StringLike: { "s3:prefix": listed } },
    });
  }
  for (const action of new Set(needs.map((n) => n.action))) {
    const placement = action.startsWith("s3:") ? undefined : placementOf(action, targets);
    if (placement) place(action, placement);
  }

  const grants: Grant[] = [...placed.values()].map(({ placement, actions }) => ({
    statement: new PolicyStatement({
      actions: [...actions].sort(),
      resources: [...placement.resources],
      ...(placement.conditions && { conditions: placement.conditions }),
    }),
    ...(placement.patternReason && { patternReason: placement.patternReason }),
  }));
  for (const [key, actions] of keyUse(needs, targets)) {
    grants.push({
      statement: new PolicyStatement({ actions: [...actions].sort(), resources: [key.keyArn] }),
    });
  }
  return grants;
}

/** The KMS actions the bucket's and the table's keys need for the needs' reads and writes. */
function keyUse(needs: readonly Need[], targets: AccessTargets): Map<IKey, Set<string>> {
  const has = (test: (action: IamAction) => boolean) => needs.some((n) => test(n.action));
  const keyActions = new Map<IKey, Set<string>>();
  const useKey = (key: IKey | undefined, ...actions: string[]) => {
    if (!key) return;
    const set = keyActions.get(key) ?? new Set<string>();
    for (const action of actions) set.add(action);
    keyActions.set(key, set);
  };
  if (has((a) => a === "s3:GetObject" || a === "s3:GetObjectVersion")) {
    useKey(targets.bucket.encryptionKey, "kms:Decrypt");
  }
  // Decrypt too: a multipart upload reads back the data key of its parts.
  if (has((a) => a === "s3:PutObject"))
    useKey(targets.bucket.encryptionKey, "kms:GenerateDataKey", "kms:Decrypt");
  if (has((a) => a.startsWith("dynamodb:"))) useKey(targets.tableKey, "kms:Decrypt", "kms:DescribeKey");
  if (has((a) => ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"].includes(a))) {
    useKey(targets.tableKey, "kms:Encrypt", "kms:GenerateDataKey");
  }
  return keyActions;
}

/** The grants of the function: what its port use needs, on this pipeline's resources. */
export function functionGrants(name: ModelshipFunction, targets: AccessTargets): Grant[] {
  return grantsOf(needsOf(FUNCTION_PORT_USE[name]), targets);
}
