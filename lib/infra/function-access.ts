// What each Lambda function may touch, in one table — least privilege per function, written as what a stage
// uses rather than as IAM — and its translation into exact IAM statements (the cluster's side of
// candidateWorkloads, an EKS access entry, is made by the ModelPipeline construct). Functions whose stage is
// not built yet get only what they are known to need now (the rollout table, events, the cluster's
// endpoint, their report prefix); the issue that builds a stage widens its row here along with its adapter.

import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { PipelineFunction } from "../core/pipeline-functions";

export type ModelshipFunction = "Start" | PipelineFunction;

type Access =
  /** GetObject on `models/*\/*\/modelship.*`: the manifests. */
  | "readManifests"
  /** ListBucket under `models/`: which files a model has and their sizes, not their contents. */
  | "listModels"
  /** List and GetObject under `models/`: weights, configs, tokenizers (headers by ranged reads). */
  | "readModels"
  /** List and GetObject under `evals/`: the eval suites. */
  | "readEvals"
  /** List and GetObject under `reports/`. */
  | "readReports"
  /** PutObject under `reports/`. */
  | "writeReports"
  /** Item reads and writes on the rollout table (locks, records, de-duplication claims, version results). */
  | "rolloutTable"
  /** PutEvents on the modelship bus. */
  | "putEvents"
  /** StartExecution on this pipeline's state machine. */
  | "startExecution"
  /** eks:DescribeCluster on the configured cluster: its endpoint and CA, to talk to its API. */
  | "describeCluster"
  /**
   * Candidate workloads in the stack's namespace: describeCluster, and (not IAM) an EKS access entry that lets
   * the function's role edit Deployments, Services, pods, their logs and events, and use the service proxy.
   */
  | "candidateWorkloads";

const STAGE_RECORDS: readonly Access[] = ["rolloutTable", "putEvents"];
const ON_CLUSTER: readonly Access[] = [...STAGE_RECORDS, "describeCluster"];
const WITH_CANDIDATES: readonly Access[] = [...STAGE_RECORDS, "candidateWorkloads"];

export const FUNCTION_ACCESS: Readonly<Record<ModelshipFunction, readonly Access[]>> = {
  Start: ["startExecution", "putEvents"],
  Prepare: ["readManifests", "listModels", ...STAGE_RECORDS],
  Validate: ["readModels", "writeReports"],
  // Lists the weights to find the file a GGUF model is served from.
  DeployCandidate: [...WITH_CANDIDATES, "listModels"],
  CheckCandidate: WITH_CANDIDATES,
  SmokeTest: [...WITH_CANDIDATES, "writeReports"],
  StressWorker: ["candidateWorkloads", "writeReports"],
  MergeStress: [...STAGE_RECORDS, "readReports", "writeReports"],
  EvalShard: ["candidateWorkloads", "readEvals", "writeReports"],
  MergeEval: [...STAGE_RECORDS, "readReports", "writeReports"],
  RegisterGateway: ON_CLUSTER,
  CanaryStep: ON_CLUSTER,
  CheckCanary: STAGE_RECORDS,
  Promote: ON_CLUSTER,
  Finalize: WITH_CANDIDATES,
  Rollback: WITH_CANDIDATES,
  Cleanup: WITH_CANDIDATES,
};

/** The functions whose roles get an EKS access entry to the candidates' namespace. */
export function managesCandidates(name: ModelshipFunction): boolean {
  return FUNCTION_ACCESS[name].includes("candidateWorkloads");
}

/** The resources the access kinds refer to. */
export interface AccessTargets {
  readonly bucket: IBucket;
  readonly tableArn: string;
  readonly tableKey: IKey;
  readonly eventBusArn: string;
  readonly stateMachineArn: string;
  readonly clusterArn: string;
}

/** Prefixes the bucket is read under, for each reading access kind. */
const READ_PREFIX: Partial<Record<Access, string>> = {
  readModels: "models/",
  readEvals: "evals/",
  readReports: "reports/",
};
/** Prefixes the bucket is listed under: everything read, and what is only listed. */
const LIST_PREFIX: Partial<Record<Access, string>> = { ...READ_PREFIX, listModels: "models/" };

/** The IAM statements granting exactly `accesses`: no action wildcards, object wildcards only by prefix. */
export function accessStatements(accesses: readonly Access[], targets: AccessTargets): PolicyStatement[] {
  const { bucket } = targets;
  const has = (access: Access) => accesses.includes(access);
  const statements: PolicyStatement[] = [];
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
    statements.push(new PolicyStatement({ actions: ["s3:GetObject"], resources: readObjects }));
    useKey(bucket.encryptionKey, "kms:Decrypt");
  }
  const listPrefixes = [...new Set(accesses.flatMap((a) => (LIST_PREFIX[a] ? [`${LIST_PREFIX[a]}*`] : [])))];
  if (listPrefixes.length > 0) {
    statements.push(
      new PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": listPrefixes } },
      }),
    );
  }
  if (has("writeReports")) {
    statements.push(
      new PolicyStatement({ actions: ["s3:PutObject"], resources: [bucket.arnForObjects("reports/*")] }),
    );
    // Decrypt too: a multipart upload reads back the data key of its parts.
    useKey(bucket.encryptionKey, "kms:GenerateDataKey", "kms:Decrypt");
  }
  if (has("rolloutTable")) {
    statements.push(
      new PolicyStatement({
        actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
        resources: [targets.tableArn],
      }),
    );
    useKey(targets.tableKey, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey");
  }
  if (has("putEvents")) {
    statements.push(new PolicyStatement({ actions: ["events:PutEvents"], resources: [targets.eventBusArn] }));
  }
  if (has("startExecution")) {
    statements.push(
      new PolicyStatement({ actions: ["states:StartExecution"], resources: [targets.stateMachineArn] }),
    );
  }
  if (has("describeCluster") || has("candidateWorkloads")) {
    statements.push(
      new PolicyStatement({ actions: ["eks:DescribeCluster"], resources: [targets.clusterArn] }),
    );
  }
  for (const [key, actions] of keyActions) {
    statements.push(new PolicyStatement({ actions: [...actions].sort(), resources: [key.keyArn] }));
  }
  return statements;
}
