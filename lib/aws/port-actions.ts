// What each port method of the AWS adapters sends, as IAM actions (one table) and as rights in the cluster's
// Kubernetes API (another): the grants of every function are derived from these and from the port methods
// its stage declares (lib/pipeline/port-use.ts). Every method of every port has a row, so a new port method
// does not compile until its row says what it needs. test/unit/aws/port-actions.test.ts runs each adapter
// method against mocked SDK clients and checks that the commands it sends are exactly its row's actions.
//
// DynamoDB's TransactWriteItems has no IAM action of its own: it is authorized by the PutItem, UpdateItem,
// DeleteItem and ConditionCheckItem actions of its items, so `record` lists those of the items it writes.

import type { PortMember, PortName } from "../pipeline/port-use";

/** An IAM action, `service:Action`. */
export type IamAction = `${string}:${string}`;

type ActionTable = { readonly [P in PortName]: { readonly [M in PortMember<P>]-?: readonly IamAction[] } };

export const PORT_ACTIONS = {
  objects: {
    location: [],
    bucket: [],
    list: ["s3:ListBucket"],
    // HeadObject is authorized by GetObject; reading by version id (a manifest as uploaded) by GetObjectVersion.
    // A read of a key that does not exist is answered 404 only to a requester who may list the bucket, 403
    // to any other (GetObject's API reference, Permissions), and the adapter tells "missing" by the 404.
    head: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
    getRange: ["s3:GetObject", "s3:ListBucket"],
    get: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
    put: ["s3:PutObject"],
  },
  store: {
    acquireLock: ["dynamodb:UpdateItem"],
    releaseLock: ["dynamodb:UpdateItem"],
    // A conditional update of the model's state item: only while the rollout holds the lock.
    claimEnd: ["dynamodb:UpdateItem"],
    // Reads the state item's transition count, then one transaction conditional on it: the state item
    // updated, the transition put as an item of its own, and the events to announce put in the outbox.
    record: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"],
    // The outbox: the rollout's events, by a query on the model's partition; announced ones deleted.
    pendingEvents: ["dynamodb:Query"],
    markAnnounced: ["dynamodb:DeleteItem"],
    // The state item, then the history by a query on the model's partition.
    get: ["dynamodb:GetItem", "dynamodb:Query"],
    list: ["dynamodb:Scan", "dynamodb:Query"],
    claimOnce: ["dynamodb:PutItem"],
    saveVersionResults: ["dynamodb:PutItem"],
    getVersionResults: ["dynamodb:GetItem"],
  },
  events: { emit: ["events:PutEvents"] },
  // The task responses are authorized on the state machine (as CDK's StateMachine.grantTaskResponse grants them).
  executions: {
    idFor: [],
    start: ["states:StartExecution"],
    sendTaskSuccess: ["states:SendTaskSuccess"],
    sendTaskFailure: ["states:SendTaskFailure"],
  },
  clock: { now: [], sleep: [] },
  // The cluster's endpoint and CA; the rest happens in the Kubernetes API (KUBERNETES_ACCESS).
  serving: {
    // Lists the version's files to find the GGUF file llama.cpp serves.
    deploy: ["eks:DescribeCluster", "s3:ListBucket"],
    status: ["eks:DescribeCluster"],
    endpoint: ["eks:DescribeCluster"],
    remove: ["eks:DescribeCluster"],
    removeRollout: ["eks:DescribeCluster"],
    // Each ready pod's /metrics through the API server's pods proxy.
    scrapeMetrics: ["eks:DescribeCluster"],
    scale: ["eks:DescribeCluster"],
    replicas: ["eks:DescribeCluster"],
    autoscale: ["eks:DescribeCluster"],
    // Nodes, pods and Karpenter NodePools, read in the Kubernetes API.
    checkCapacity: ["eks:DescribeCluster"],
  },
  gateway: {
    register: ["eks:DescribeCluster"],
    setWeights: ["eks:DescribeCluster"],
    promote: ["eks:DescribeCluster"],
    removeBackend: ["eks:DescribeCluster"],
    describe: ["eks:DescribeCluster"],
    mirror: ["eks:DescribeCluster"],
    // The gateway on the cluster throws mirrored answers away: nothing to read, no call made.
    shadowSamples: [],
  },
  registry: {
    // The group is described, and created on first use; the rollout's package is looked for among the
    // group's versions (list, then describe) before one is created.
    register: [
      "sagemaker:DescribeModelPackageGroup",
      "sagemaker:CreateModelPackageGroup",
      "sagemaker:ListModelPackages",
      "sagemaker:DescribeModelPackage",
      "sagemaker:CreateModelPackage",
    ],
    setStatus: [
      "sagemaker:ListModelPackages",
      "sagemaker:DescribeModelPackage",
      "sagemaker:UpdateModelPackage",
    ],
    getStatus: ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
    // The package an approval event names, by its ARN: no listing.
    describeVersion: ["sagemaker:DescribeModelPackage"],
  },
  alarms: {
    ensure: ["cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm"],
    // The alarms' states, and the current value of each metric alarm for the status line.
    states: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
    // Each alarm's metric (or metric math) as its definition says, over the rollout's span.
    metricHistory: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
    // Composites are deleted before the alarms they name, so the names are described first.
    remove: ["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
  },
  metrics: {
    // Embedded Metric Format lines on stdout: CloudWatch Logs makes the metrics, no API call.
    publish: [],
    publishTraffic: [],
    // Asking the stack's Prometheus: an AMP workspace signed for `aps`, or an in-cluster one through the API
    // server (its `get services/proxy` in the Prometheus' namespace is a Role of its own: cluster-roles.ts). A
    // stack whose config names no AMP workspace is granted no aps action (function-access.ts).
    queryPrometheus: ["aps:QueryMetrics", "eks:DescribeCluster"],
    // Created, or updated when it exists; the schedule's target role is passed to Scheduler.
    startProber: ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "iam:PassRole"],
    stopProber: ["scheduler:DeleteSchedule"],
  },
  // Only on the functions of the stack's allow-list (allowedHookFunctions), and only the signing secret.
  hooks: {
    callFunction: ["lambda:InvokeFunction"],
    signingKey: ["secretsmanager:GetSecretValue"],
  },
} as const satisfies ActionTable;

/**
 * Rights in the cluster's Kubernetes API, in the stack's namespace. `editCandidates` is what the EKS access
 * policy AmazonEKSEditPolicy gives (create and delete Deployments, Services, ServiceAccounts, and all the
 * reads); the others are Kubernetes groups the platform team binds to Roles (lib/infra/cluster-roles.ts).
 */
export type KubernetesAccess =
  /** Create and delete candidates' Deployments, Services and ServiceAccount; includes every read below. */
  | "editCandidates"
  /** Read candidates (pods, their logs and events, Deployments) and send them requests by the service proxy. */
  | "readCandidates"
  /** Read a model's HTTPRoute. */
  | "readRoutes"
  /** Create, change and delete the models' HTTPRoutes. */
  | "editRoutes"
  /** Read each serving pod's `/metrics` through the API server's pods proxy. */
  | "scrapePods"
  /** Change a Deployment's replicas and create or change its autoscaler (a KEDA ScaledObject or an HPA). */
  | "scaleCandidates"
  /** Read the cluster's GPU capacity: nodes, the pods on them, Karpenter NodePools (cluster-scoped). */
  | "readCapacity";

type KubernetesTable = {
  readonly [P in "serving" | "gateway"]: { readonly [M in PortMember<P>]-?: KubernetesAccess };
};

export const KUBERNETES_ACCESS = {
  serving: {
    deploy: "editCandidates",
    status: "readCandidates",
    endpoint: "readCandidates",
    remove: "editCandidates",
    removeRollout: "editCandidates",
    scrapeMetrics: "scrapePods",
    scale: "scaleCandidates",
    replicas: "readCandidates",
    autoscale: "scaleCandidates",
    checkCapacity: "readCapacity",
  },
  gateway: {
    register: "editRoutes",
    setWeights: "editRoutes",
    promote: "editRoutes",
    removeBackend: "editRoutes",
    describe: "readRoutes",
    mirror: "editRoutes",
    shadowSamples: "readRoutes",
  },
} as const satisfies KubernetesTable;

/** Where in the bucket `serving.deploy` lists: the version's weights, under models/. */
export const SERVING_BUCKET_AREA = "models";
