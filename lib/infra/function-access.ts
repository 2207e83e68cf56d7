// What each Lambda function may touch, in one table — least privilege per function, written as what a stage
// uses rather than as IAM — and its translation into exact IAM statements (the cluster's side of
// candidateWorkloads and modelRoutes, an EKS access entry, is made by the ModelPipeline construct). Functions
// whose stage is not built yet get only what they are known to need now (the rollout table, events, their
// report prefix); the issue that builds a stage widens its row here along with its adapter.

import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { PipelineFunction } from "../core/pipeline-functions";

/** Functions outside the state machine that events invoke: the canary's prober (on a schedule), commands, alarms. */
export type EventFunction = "Prober" | "Command" | "AlarmRollback";

export type ModelshipFunction = "Start" | PipelineFunction | EventFunction;

type Access =
  /** GetObject on `models/*\/*\/modelship.*`: the manifests. */
  | "readManifests"
  /** ListBucket under `models/`: which files a model has and their sizes, not their contents. */
  | "listModels"
  /** List and GetObject under `models/`: weights, configs, tokenizers (headers by ranged reads). */
  | "readModels"
  /** List and GetObject under `evals/`: the eval suites. */
  | "readEvals"
  /** List and GetObject under `prompts/`: the stress test's prompt sets. */
  | "readPrompts"
  /** List and GetObject under `reports/`. */
  | "readReports"
  /** PutObject under `reports/`. */
  | "writeReports"
  /** Item reads and writes on the rollout table (locks, records, de-duplication claims, version results, the events outbox). */
  | "rolloutTable"
  /** Item reads on the rollout table: what serves each model. */
  | "readRolloutTable"
  /** PutEvents on the modelship bus. */
  | "putEvents"
  /** StartExecution on this pipeline's state machine. */
  | "startExecution"
  /**
   * Candidate workloads in the stack's namespace: eks:DescribeCluster on the configured cluster (its endpoint
   * and CA, to talk to its API), and (not IAM) an EKS access entry that lets the function's role edit
   * Deployments, Services, pods, their logs and events, and use the service proxy.
   */
  | "candidateWorkloads"
  /**
   * The models' HTTPRoutes in the stack's namespace: eks:DescribeCluster, and (not IAM) the access entry's
   * Kubernetes group MODEL_ROUTES_GROUP, which the platform team binds to a Role on httproutes (docs/eks.md).
   */
  | "modelRoutes"
  /** PutMetricAlarm and PutCompositeAlarm on alarms named `modelship-*`. */
  | "writeAlarms"
  /** DescribeAlarms (composite alarms are returned only to a grant on `*`) and GetMetricData: states and values. */
  | "readAlarms"
  /** DeleteAlarms on alarms named `modelship-*`, and DescribeAlarms to delete composites before what they name. */
  | "deleteAlarms"
  /** Create and update the prober's schedules in the stack's schedule group, passing the scheduler role. */
  | "startProber"
  /** Delete the prober's schedules in the stack's schedule group. */
  | "stopProber"
  /** Create model package groups and versions in the SageMaker Model Registry, and read them back. */
  | "registerVersions"
  /** Read and change a model package version's approval status. */
  | "approveVersions";

/** The Kubernetes group of the access entries of functions that change the models' routes (see docs/eks.md). */
const MODEL_ROUTES_GROUP = "modelship-routes";

/** The names of the alarms and prober schedules modelship creates begin with this: IAM and the alarm rule use it. */
export const NAME_PREFIX = "modelship-";

const STAGE_RECORDS: readonly Access[] = ["rolloutTable", "putEvents"];
const WITH_CANDIDATES: readonly Access[] = [...STAGE_RECORDS, "candidateWorkloads"];
/** Everything a rollback undoes: traffic back to stable, the candidate's workload, alarms, prober and registry status. */
const ROLLS_BACK: readonly Access[] = [
  ...WITH_CANDIDATES,
  "modelRoutes",
  "readAlarms",
  "deleteAlarms",
  "stopProber",
  "approveVersions",
];

export const FUNCTION_ACCESS: Readonly<Record<ModelshipFunction, readonly Access[]>> = {
  Start: ["startExecution", "putEvents"],
  Prepare: ["readManifests", "listModels", "readEvals", "readPrompts", ...STAGE_RECORDS],
  Validate: ["readModels", "writeReports"],
  // Lists the weights to find the file a GGUF model is served from.
  DeployCandidate: [...WITH_CANDIDATES, "listModels"],
  CheckCandidate: WITH_CANDIDATES,
  SmokeTest: [...WITH_CANDIDATES, "writeReports"],
  StressWorker: ["candidateWorkloads", "readPrompts", "writeReports"],
  MergeStress: [...STAGE_RECORDS, "readReports", "writeReports"],
  EvalShard: ["candidateWorkloads", "readEvals", "writeReports"],
  MergeEval: [...STAGE_RECORDS, "readReports", "writeReports"],
  RegisterGateway: [...STAGE_RECORDS, "modelRoutes", "registerVersions"],
  CanaryStep: [...STAGE_RECORDS, "modelRoutes", "writeAlarms", "startProber"],
  // After each bake and after the watch.
  CheckCanary: [...STAGE_RECORDS, "readAlarms"],
  // A first release is armed at Promote: it has no canary step to arm it.
  Promote: [...STAGE_RECORDS, "modelRoutes", "approveVersions", "writeAlarms", "startProber"],
  // Retires the old stable: its backendRef and workload; disarms the alarms and the prober.
  Finalize: [...WITH_CANDIDATES, "modelRoutes", "deleteAlarms", "stopProber"],
  Rollback: ROLLS_BACK,
  // A failure at RegisterGateway may have left the candidate on the model's route: Cleanup takes it off.
  Cleanup: [...WITH_CANDIDATES, "modelRoutes"],
  // Reads which versions serve the model and reaches them (through the service proxy without a gateway URL);
  // stops its own schedule once the rollout is over.
  Prober: ["readRolloutTable", "candidateWorkloads", "stopProber"],
  // Rollback and Abort roll back; Promote marks the record for CheckCanary.
  Command: ROLLS_BACK,
  // Finds the rollout that armed the alarm by its record, then rolls it back.
  AlarmRollback: ROLLS_BACK,
};

/** The functions whose roles get an EKS access entry: those that manage candidates or change routes. */
export function clusterAccessOf(name: ModelshipFunction): {
  readonly editNamespace: boolean;
  readonly kubernetesGroups: readonly string[];
} {
  const accesses = FUNCTION_ACCESS[name];
  return {
    editNamespace: accesses.includes("candidateWorkloads"),
    kubernetesGroups: accesses.includes("modelRoutes") ? [MODEL_ROUTES_GROUP] : [],
  };
}

/** The resources the access kinds refer to. */
export interface AccessTargets {
  readonly bucket: IBucket;
  readonly tableArn: string;
  readonly tableKey: IKey;
  readonly eventBusArn: string;
  readonly stateMachineArn: string;
  readonly clusterArn: string;
  /** `arn:…:cloudwatch:<region>:<account>:alarm:modelship-*` */
  readonly alarmsArn: string;
  /** `arn:…:scheduler:<region>:<account>:schedule/<group>/modelship-*` */
  readonly proberSchedulesArn: string;
  /** The role EventBridge Scheduler invokes the prober with. */
  readonly schedulerRoleArn: string;
  /** `arn:…:sagemaker:<region>:<account>:model-package-group/*` */
  readonly modelPackageGroupsArn: string;
  /** `arn:…:sagemaker:<region>:<account>:model-package/*` */
  readonly modelPackagesArn: string;
}

/** An IAM statement, and why it names resources by a pattern or `*` when it does (cdk-nag asks for a reason). */
export interface Grant {
  readonly statement: PolicyStatement;
  readonly patternReason?: string;
}

/** Prefixes the bucket is read under, for each reading access kind. */
const READ_PREFIX: Partial<Record<Access, string>> = {
  readModels: "models/",
  readEvals: "evals/",
  readPrompts: "prompts/",
  readReports: "reports/",
};
/** Prefixes the bucket is listed under: everything read, and what is only listed. */
const LIST_PREFIX: Partial<Record<Access, string>> = { ...READ_PREFIX, listModels: "models/" };

const OBJECT_PREFIX_REASON =
  "Access to the objects under one key prefix of the model bucket: the objects are named by users " +
  "(models, versions, reports), so their keys cannot be listed in the policy in advance.";
const ALARM_PREFIX_REASON =
  "The alarms modelship creates for each rollout, all named modelship-<model>-<version>-…: versions arrive " +
  "with uploads, so the names cannot be listed in advance; the prefix keeps every other alarm out of reach.";
const COMPOSITE_READ_REASON =
  "CloudWatch returns composite alarms from DescribeAlarms only to a grant on '*' (API reference), and " +
  "GetMetricData has no resource-level permissions; both only read.";
const SCHEDULE_REASON =
  "The prober's schedules, one per model version (modelship-<model>-<version>), inside the stack's own " +
  "schedule group: versions arrive with uploads, and the pattern covers that group and nothing else.";
const MODEL_PACKAGE_REASON =
  "Model package groups are named after the models uploaded to the bucket and versions are numbered by " +
  "SageMaker, so they cannot be listed in advance; the grant is limited to this account and region.";
const MODEL_PACKAGE_LIST_REASON =
  "ListModelPackages has no resource-level permissions (IAM accepts only '*'); it only reads, to find a " +
  "rollout's version in its model's package group.";

/** The grants of exactly `accesses`: no action wildcards, resource patterns only with a reason. */
export function accessGrants(accesses: readonly Access[], targets: AccessTargets): Grant[] {
  const { bucket } = targets;
  const has = (access: Access) => accesses.includes(access);
  const grants: Grant[] = [];
  const grant = (actions: string[], resources: string[], patternReason?: string, conditions?: object) =>
    grants.push({
      statement: new PolicyStatement({ actions, resources, ...(conditions && { conditions }) }),
      ...(patternReason && { patternReason }),
    });
  const keyActions = new Map<IKey, Set<string>>();
  const useKey = (key: IKey | undefined, ...actions: string[]) => {
    if (!key) return;
    const set = keyActions.get(key) ?? new Set<string>();
    for (const action of actions) set.add(action);
    keyActions.set(key, set);
  };

  const readPrefixes = accesses.flatMap((a) => (READ_PREFIX[a] ? [`${READ_PREFIX[a]}*`] : []));
  const readObjects = [...(has("readManifests") ? ["models/*/*/modelship.*"] : []), ...readPrefixes].map(
    (pattern) => bucket.arnForObjects(pattern),
  );
  if (readObjects.length > 0) {
    grant(["s3:GetObject"], readObjects, OBJECT_PREFIX_REASON);
    useKey(bucket.encryptionKey, "kms:Decrypt");
  }
  const listPrefixes = [...new Set(accesses.flatMap((a) => (LIST_PREFIX[a] ? [`${LIST_PREFIX[a]}*`] : [])))];
  if (listPrefixes.length > 0) {
    grant(["s3:ListBucket"], [bucket.bucketArn], undefined, { StringLike: { "s3:prefix": listPrefixes } });
  }
  if (has("writeReports")) {
    grant(["s3:PutObject"], [bucket.arnForObjects("reports/*")], OBJECT_PREFIX_REASON);
    // Decrypt too: a multipart upload reads back the data key of its parts.
    useKey(bucket.encryptionKey, "kms:GenerateDataKey", "kms:Decrypt");
  }
  const tableActions = [
    ...(has("rolloutTable") || has("readRolloutTable") ? ["dynamodb:GetItem", "dynamodb:Query"] : []),
    // DeleteItem: announced events leave the outbox (RolloutStore.markAnnounced).
    ...(has("rolloutTable") ? ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"] : []),
  ];
  if (tableActions.length > 0) {
    grant(tableActions, [targets.tableArn]);
    useKey(
      targets.tableKey,
      "kms:Decrypt",
      "kms:DescribeKey",
      ...(has("rolloutTable") ? ["kms:Encrypt", "kms:GenerateDataKey"] : []),
    );
  }
  if (has("putEvents")) grant(["events:PutEvents"], [targets.eventBusArn]);
  if (has("startExecution")) grant(["states:StartExecution"], [targets.stateMachineArn]);
  if (has("candidateWorkloads") || has("modelRoutes")) {
    grant(["eks:DescribeCluster"], [targets.clusterArn]);
  }
  if (has("writeAlarms")) {
    grant(
      ["cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm"],
      [targets.alarmsArn],
      ALARM_PREFIX_REASON,
    );
  }
  if (has("deleteAlarms")) grant(["cloudwatch:DeleteAlarms"], [targets.alarmsArn], ALARM_PREFIX_REASON);
  if (has("readAlarms") || has("deleteAlarms")) {
    grant(
      ["cloudwatch:DescribeAlarms", ...(has("readAlarms") ? ["cloudwatch:GetMetricData"] : [])],
      ["*"],
      COMPOSITE_READ_REASON,
    );
  }
  if (has("startProber")) {
    grant(
      ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
      [targets.proberSchedulesArn],
      SCHEDULE_REASON,
    );
    grant(["iam:PassRole"], [targets.schedulerRoleArn], undefined, {
      StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" },
    });
  }
  if (has("stopProber")) grant(["scheduler:DeleteSchedule"], [targets.proberSchedulesArn], SCHEDULE_REASON);
  if (has("registerVersions")) {
    grant(
      ["sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup"],
      [targets.modelPackageGroupsArn],
      MODEL_PACKAGE_REASON,
    );
    grant(
      ["sagemaker:CreateModelPackage"],
      [targets.modelPackageGroupsArn, targets.modelPackagesArn],
      MODEL_PACKAGE_REASON,
    );
  }
  if (has("approveVersions")) {
    grant(["sagemaker:UpdateModelPackage"], [targets.modelPackagesArn], MODEL_PACKAGE_REASON);
  }
  if (has("registerVersions") || has("approveVersions")) {
    // Both find a rollout's package among its group's versions, and read its metadata and status.
    grant(["sagemaker:DescribeModelPackage"], [targets.modelPackagesArn], MODEL_PACKAGE_REASON);
    grant(["sagemaker:ListModelPackages"], ["*"], MODEL_PACKAGE_LIST_REASON);
  }
  for (const [key, actions] of keyActions) grant([...actions].sort(), [key.keyArn]);
  return grants;
}
