// The action table (lib/aws/port-actions.ts) checked against the AWS adapters themselves: every method of
// every port runs, through the scenarios that reach each of its branches, against mocked SDK clients (and the
// in-test Kubernetes API server for the cluster's adapters); every command the method sent becomes the IAM
// action that authorizes it, and the union must be exactly the method's row — so the table, from which every
// function's grants are derived, cannot promise less than an adapter sends, nor more.

import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  CreateModelPackageCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  SageMakerClient,
} from "@aws-sdk/client-sagemaker";
import { ConflictException, CreateScheduleCommand, SchedulerClient } from "@aws-sdk/client-scheduler";
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { Readable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CloudWatchAlarms } from "../../../lib/aws/cloudwatch-alarms";
import { CloudWatchMetrics } from "../../../lib/aws/cloudwatch-metrics";
import { DynamoRolloutStore } from "../../../lib/aws/dynamodb-rollout-store";
import { eksClusterConnection } from "../../../lib/aws/eks/cluster";
import { EksServing } from "../../../lib/aws/eks/eks-serving";
import { EventBridgeEvents } from "../../../lib/aws/eventbridge-events";
import { HttpRouteGateway } from "../../../lib/aws/gateway/httproute-gateway";
import { type IamAction, KUBERNETES_ACCESS, PORT_ACTIONS } from "../../../lib/aws/port-actions";
import { S3ObjectStore } from "../../../lib/aws/s3-object-store";
import { SageMakerRegistry } from "../../../lib/aws/sagemaker-registry";
import { StepFunctionsExecutions } from "../../../lib/aws/sfn-executions";
import { DEFAULT_STACK_CONFIG } from "../../../lib/core/config/config";
import type { AutoscalingSettings, CandidateHandle } from "../../../lib/ports";
import { KUBERNETES_RULES } from "../../../lib/infra/cluster-roles";
import type { PortMember, PortName } from "../../../lib/pipeline/port-use";
import { DynamoTableDouble } from "../adapters/dynamodb-table-double";
import { llamaCandidateSpec } from "../../support/candidate-spec";
import { FixedClock } from "../../support/fixed-clock";
import { KubernetesApiServer } from "../eks/kubernetes-api-server";
import { PrometheusQueries } from "../../../lib/aws/prometheus-queries";
import { LambdaHooks } from "../../../lib/aws/lambda-hooks";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { canarySpecs } from "../../support/canary-alarm-specs";
import { PrometheusTestServer } from "../../support/prometheus-test-server";

const REGION = "us-east-1";
const mocks = {
  s3: mockClient(S3Client),
  dynamodb: mockClient(DynamoDBDocumentClient),
  events: mockClient(EventBridgeClient),
  states: mockClient(SFNClient),
  scheduler: mockClient(SchedulerClient),
  cloudwatch: mockClient(CloudWatchClient),
  sagemaker: mockClient(SageMakerClient),
  eks: mockClient(EKSClient),
  lambda: mockClient(LambdaClient),
};
type Service = keyof typeof mocks;
type AnyStub = Pick<AwsClientStub<S3Client>, "calls" | "reset" | "resetHistory">;

/** The IAM actions that authorize one SDK command, by the service's own rules where the name does not say. */
function actionsOf(
  service: Service,
  command: { constructor: { name: string }; input: unknown },
): IamAction[] {
  const name = command.constructor.name.replace(/Command$/, "");
  const input = command.input as Record<string, unknown>;
  switch (service) {
    case "s3":
      if (name === "ListObjectsV2") return ["s3:ListBucket"];
      // HeadObject is authorized by GetObject; a read of a given version by GetObjectVersion; and only a
      // requester who may list the bucket is told 404 for a missing key, which the adapter relies on.
      if (name === "HeadObject" || name === "GetObject") {
        return [input.VersionId === undefined ? "s3:GetObject" : "s3:GetObjectVersion", "s3:ListBucket"];
      }
      return [`s3:${name}`];
    case "dynamodb": {
      // The document client's commands are the table's item operations.
      const item = (operation: string) =>
        `dynamodb:${{ Get: "GetItem", Put: "PutItem", Update: "UpdateItem", Delete: "DeleteItem", ConditionCheck: "ConditionCheckItem" }[operation] ?? operation}` as IamAction;
      if (name === "TransactWrite") {
        return (input.TransactItems as Record<string, unknown>[]).flatMap((entry) =>
          Object.keys(entry).map(item),
        );
      }
      return [item(name)];
    }
    case "scheduler": {
      const target = input.Target as { RoleArn?: string } | undefined;
      return [`scheduler:${name}`, ...(target?.RoleArn ? (["iam:PassRole"] as const) : [])];
    }
    case "lambda":
      // The Invoke API is authorized by lambda:InvokeFunction.
      return name === "Invoke" ? ["lambda:InvokeFunction"] : [`lambda:${name}`];
    default:
      return [`${service}:${name}`];
  }
}

function sentActions(): Set<IamAction> {
  const actions = new Set<IamAction>();
  // Signed HTTP requests to AMP are no SDK command: each is authorized by aps:QueryMetrics.
  for (const request of prometheus.requests) {
    if (/\/aps\/aws4_request/.test(String(request.headers.authorization ?? "")))
      actions.add("aps:QueryMetrics");
    if (request.headers["x-amz-target"] === "secretsmanager.GetSecretValue") {
      actions.add("secretsmanager:GetSecretValue");
    }
  }
  for (const [service, mock] of Object.entries(mocks) as [Service, AnyStub][]) {
    for (const call of mock.calls()) {
      for (const action of actionsOf(service, call.args[0] as never)) actions.add(action);
    }
  }
  return actions;
}

function resetMocks(): void {
  for (const mock of Object.values(mocks) as AnyStub[]) mock.reset();
  prometheus.requests.length = 0;
}

/** Runs a scenario, keeping what it sent whether it succeeded or not (a branch may end in an adapter error). */
async function run(scenario: () => Promise<unknown>): Promise<void> {
  await scenario().catch(() => undefined);
}

function lambdaHooks(): LambdaHooks {
  return new LambdaHooks({
    functions: [
      { name: "regression-check", arn: "arn:aws:lambda:us-east-1:123456789012:function:regression-check" },
    ],
    region: REGION,
    signingSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:modelship-hooks-AbCdEf",
    secretsManagerUrl: prometheusUrl,
    credentials: { accessKeyId: "AKIDMODELSHIPTEST", secretAccessKey: "test-secret" },
  });
}

const kubernetes = new KubernetesApiServer();
let kubernetesUrl = "";
const prometheus = new PrometheusTestServer();
let prometheusUrl = "";
beforeAll(async () => {
  kubernetesUrl = await kubernetes.start();
  prometheusUrl = await prometheus.start();
});
afterAll(async () => {
  await kubernetes.stop();
  await prometheus.stop();
});

/** A fresh connection each time: it describes the cluster once, as a function's first call does. */
function connection() {
  mocks.eks.on(DescribeClusterCommand).resolves({
    cluster: { endpoint: kubernetesUrl, certificateAuthority: { data: kubernetes.caData } },
  });
  return eksClusterConnection({
    clusterName: DEFAULT_STACK_CONFIG.clusterName,
    region: REGION,
    client: new EKSClient({ region: REGION }),
    credentials: { accessKeyId: "AKIDMODELSHIPTEST", secretAccessKey: "test-secret" },
  });
}

const objectStore = () =>
  new S3ObjectStore({ bucket: "models-bucket", client: new S3Client({ region: REGION }) });
const body = (text: string) => ({ transformToByteArray: async () => new TextEncoder().encode(text) });
const serving = () =>
  new EksServing({
    config: DEFAULT_STACK_CONFIG,
    connection: connection(),
    region: REGION,
    clock: new FixedClock(),
    objects: objectStore(),
  });
const gateway = () => new HttpRouteGateway({ config: DEFAULT_STACK_CONFIG, connection: connection() });
const registry = () => new SageMakerRegistry({ client: new SageMakerClient({ region: REGION }) });
const alarms = () =>
  new CloudWatchAlarms({ client: new CloudWatchClient({ region: REGION }), clock: new FixedClock() });
const metrics = () =>
  new CloudWatchMetrics({
    namespace: "modelship",
    proberFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:prober",
    schedulerRoleArn: "arn:aws:iam::123456789012:role/scheduler",
    scheduleGroup: "modelship-probers",
    client: new SchedulerClient({ region: REGION }),
    clock: new FixedClock(),
    write: () => undefined,
  });
const store = () => {
  new DynamoTableDouble("rollouts").answer(mocks.dynamodb);
  return new DynamoRolloutStore({
    tableName: "rollouts",
    client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION })),
  });
};

/** A store whose model has a record (its state item and a transition), the calls that wrote it forgotten. */
async function storeWithARecord(): Promise<DynamoRolloutStore> {
  const written = store();
  await written.record("llama-3-8b", transition, { status: "running" });
  mocks.dynamodb.resetHistory();
  return written;
}

const AUTOSCALING: AutoscalingSettings = {
  kind: "autoscaling",
  minReplicas: 1,
  maxReplicas: 4,
  metric: "queueDepth",
  target: 4,
  cooldownSeconds: 300,
};

const candidate: CandidateHandle = {
  id: "models/llama-3-8b-v3",
  model: "llama-3-8b",
  version: "v3",
  rolloutId: "llama-3-8b-v3-0a1b2c3d",
  servedName: "llama-3-8b",
  deployedAt: "2025-06-01T12:00:00.000Z",
  details: { namespace: "models", deployment: "llama-3-8b-v3", service: "llama-3-8b-v3", port: 8000 },
};
const holder = { rolloutId: candidate.rolloutId, version: "v3", since: "2025-06-01T12:00:00.000Z" };
const transition = {
  ...holder,
  at: holder.since,
  stage: "Prepare",
  status: "running",
  reason: "started",
} as const;
const specs = canarySpecs({ model: "llama-3-8b", version: "v3", stableVersion: "v2" });
const ENTRY = {
  model: "llama-3-8b",
  version: "v3",
  rolloutId: candidate.rolloutId,
  artifactUri: "s3://models-bucket/models/llama-3-8b/v3/",
  reportUris: {},
  metadata: {},
};
const packageArn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/llama-3-8b/1";
/** The registry has the group and the rollout's package. */
function registryHasPackage(): void {
  mocks.sagemaker.on(DescribeModelPackageGroupCommand).resolves({ ModelPackageGroupArn: "arn:group" });
  mocks.sagemaker.on(ListModelPackagesCommand).resolves({
    ModelPackageSummaryList: [
      {
        ModelPackageArn: packageArn,
        ModelPackageGroupName: "llama-3-8b",
        ModelPackageVersion: 1,
        ModelPackageDescription: `modelship llama-3-8b v3 (rollout ${candidate.rolloutId})`,
        CreationTime: new Date("2025-06-01T12:00:00Z"),
        ModelPackageStatus: "Completed",
      },
    ],
  });
  mocks.sagemaker.on(DescribeModelPackageCommand).resolves({
    ModelPackageArn: packageArn,
    ModelApprovalStatus: "PendingManualApproval",
    CustomerMetadataProperties: { "modelship:version": "v3", "modelship:rolloutId": candidate.rolloutId },
  });
}

type Scenarios = {
  readonly [P in PortName]: { readonly [M in PortMember<P>]-?: readonly (() => Promise<unknown>)[] };
};

/** For each method, the scenarios that between them reach every AWS call it can make. */
const SCENARIOS: Scenarios = {
  objects: {
    location: [async () => objectStore().location],
    bucket: [async () => objectStore().bucket],
    list: [
      () => {
        mocks.s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "models/m/v1/a", Size: 1 }] });
        return objectStore().list("models/m/v1/");
      },
    ],
    head: [
      () => {
        mocks.s3.on(HeadObjectCommand).resolves({ ContentLength: 1 });
        return objectStore().head("models/m/v1/modelship.yaml");
      },
      () => {
        mocks.s3.on(HeadObjectCommand).resolves({ ContentLength: 1 });
        return objectStore().head("models/m/v1/modelship.yaml", { versionId: "v-1" });
      },
    ],
    getRange: [
      () => {
        mocks.s3.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.from("abc")]) as never });
        return objectStore().getRange("models/m/v1/model.safetensors", 0, 3);
      },
    ],
    get: [
      () => {
        mocks.s3.on(GetObjectCommand).resolves({ Body: body("name: m") as never });
        return objectStore().get("models/m/v1/modelship.yaml");
      },
      () => {
        mocks.s3.on(GetObjectCommand).resolves({ Body: body("name: m") as never });
        return objectStore().get("models/m/v1/modelship.yaml", { versionId: "v-1" });
      },
    ],
    put: [() => objectStore().put("reports/m/v1/r/validation.json", "{}")],
  },
  store: {
    acquireLock: [() => store().acquireLock("llama-3-8b", holder)],
    releaseLock: [() => store().releaseLock("llama-3-8b", holder.rolloutId)],
    claimEnd: [
      async () => {
        const locked = store();
        await locked.acquireLock("llama-3-8b", holder);
        mocks.dynamodb.resetHistory();
        return locked.claimEnd("llama-3-8b", holder.rolloutId, { stage: "Rollback", at: holder.since });
      },
    ],
    pendingEvents: [() => store().pendingEvents("llama-3-8b", holder.rolloutId)],
    markAnnounced: [() => store().markAnnounced("llama-3-8b", ["0001"])],
    record: [() => store().record("llama-3-8b", transition, { status: "running" })],
    get: [
      async () => {
        const recorded = await storeWithARecord();
        return recorded.get("llama-3-8b");
      },
    ],
    list: [
      async () => {
        const recorded = await storeWithARecord();
        return recorded.list();
      },
    ],
    claimOnce: [() => store().claimOnce("llama-3-8b#key")],
    saveVersionResults: [() => store().saveVersionResults("llama-3-8b", "v3", { stress: {} })],
    getVersionResults: [() => store().getVersionResults("llama-3-8b", "v3")],
  },
  events: {
    emit: [
      () => {
        mocks.events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "1" }] });
        return new EventBridgeEvents({
          busName: "modelship",
          client: new EventBridgeClient({ region: REGION }),
        }).emit({
          detailType: "Rollout Started",
          detail: { model: "m", version: "v1", rolloutId: "r", stage: "Prepare", message: "started" },
          time: "2025-06-01T12:00:00.000Z",
        } as never);
      },
    ],
  },
  executions: {
    idFor: [async () => executions().idFor("m-v1-0a1b2c3d")],
    start: [
      () => {
        mocks.states.on(StartExecutionCommand).resolves({ executionArn: "arn:exec", startDate: new Date() });
        return executions().start("m-v1-0a1b2c3d", {
          rollout: { id: "r", model: "m", version: "v1", source: { bucket: "b", key: "k", prefix: "p" } },
        });
      },
    ],
    sendTaskSuccess: [
      () => {
        mocks.states.on(SendTaskSuccessCommand).resolves({});
        return executions().sendTaskSuccess("token", { approvedBy: "someone" });
      },
    ],
    sendTaskFailure: [
      () => {
        mocks.states.on(SendTaskFailureCommand).resolves({});
        return executions().sendTaskFailure("token", "ApprovalRejected", "no");
      },
    ],
  },
  clock: { now: [async () => new FixedClock().now()], sleep: [async () => new FixedClock().sleep(1000)] },
  serving: {
    deploy: [
      () => {
        mocks.s3
          .on(ListObjectsV2Command)
          .resolves({ Contents: [{ Key: "models/llama-3-8b/v3/model.gguf", Size: 1 }] });
        return serving().deploy(
          llamaCandidateSpec({
            runtime: "llama.cpp",
            format: "gguf",
            image: "ghcr.io/ggml-org/llama.cpp:server",
            gpus: 0,
          }),
        );
      },
    ],
    status: [() => serving().status(candidate)],
    endpoint: [() => serving().endpoint(candidate, "probe")],
    remove: [() => serving().remove(candidate)],
    removeRollout: [() => serving().removeRollout(candidate.model, candidate.rolloutId)],
    // On a candidate whose ready pod answers (prepare).
    scrapeMetrics: [() => serving().scrapeMetrics(scraped.handle ?? candidate)],
    // On a deployed candidate (prepare): without an autoscaler, then with one pinned and given back its range.
    scale: [
      () => serving().scale(candidate, 2),
      async () => {
        await serving().autoscale(candidate, AUTOSCALING, { minReplicas: 1, maxReplicas: 4 });
        kubernetes.requests.length = 0;
        await serving().scale(candidate, 3);
        return serving().scale(candidate, "autoscaled");
      },
    ],
    replicas: [() => serving().replicas(candidate)],
    // KEDA installed (a ScaledObject, created then updated), and not (an HPA, created then updated).
    autoscale: [
      async () => {
        await serving().autoscale(candidate, AUTOSCALING, { minReplicas: 1, maxReplicas: 4 });
        return serving().autoscale(candidate, AUTOSCALING, { minReplicas: 2, maxReplicas: 2 });
      },
      async () => {
        kubernetes.installed.delete("keda.sh");
        await serving().autoscale(candidate, AUTOSCALING, { minReplicas: 1, maxReplicas: 4 });
        return serving().autoscale(candidate, AUTOSCALING, { minReplicas: 2, maxReplicas: 2 });
      },
    ],
    checkCapacity: [
      () => serving().checkCapacity({ gpus: 2, replicas: 1 }),
      () => {
        kubernetes.installed.delete("karpenter.sh");
        return serving().checkCapacity({ gpus: 2, replicas: 1 });
      },
    ],
  },
  gateway: {
    register: [() => gateway().register(candidate.model, candidate)],
    setWeights: [() => gateway().setWeights(candidate.model, { stable: 95, candidate: 5 })],
    promote: [() => gateway().promote(candidate.model, candidate.version)],
    removeBackend: [() => gateway().removeBackend(candidate.model, candidate.version)],
    describe: [() => gateway().describe(candidate.model)],
    mirror: [() => gateway().mirror(candidate.model, { version: candidate.version, percent: 20 })],
    shadowSamples: [() => gateway().shadowSamples(candidate.model)],
  },
  registry: {
    register: [
      () => {
        // A first release: the group does not exist yet, nor any package.
        mocks.sagemaker
          .on(DescribeModelPackageGroupCommand)
          .rejects(
            Object.assign(new Error("Model package group does not exist"), { name: "ValidationException" }),
          );
        mocks.sagemaker.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
        mocks.sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: packageArn });
        return registry().register(ENTRY);
      },
      () => {
        registryHasPackage();
        return registry().register(ENTRY);
      },
    ],
    setStatus: [
      () => {
        registryHasPackage();
        return registry().setStatus("llama-3-8b", "v3", "Rejected", "rolled back");
      },
    ],
    getStatus: [
      () => {
        registryHasPackage();
        return registry().getStatus("llama-3-8b", "v3");
      },
    ],
    describeVersion: [
      () => {
        registryHasPackage();
        return registry().describeVersion(packageArn);
      },
    ],
  },
  alarms: {
    ensure: [() => alarms().ensure(specs.specs)],
    states: [
      () => {
        mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
          MetricAlarms: [
            {
              AlarmName: specs.alarmNames[0],
              StateValue: "OK",
              MetricName: "Latency",
              Namespace: "modelship",
              Period: 10,
              ExtendedStatistic: "p95",
              Dimensions: [{ Name: "Model", Value: "llama-3-8b" }],
            },
          ],
        });
        mocks.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
        return alarms().states(specs.alarmNames);
      },
    ],
    metricHistory: [
      () => {
        mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
          MetricAlarms: [
            {
              AlarmName: specs.alarmNames[0],
              StateValue: "ALARM",
              MetricName: "Latency",
              Namespace: "modelship",
              Period: 10,
              ExtendedStatistic: "p95",
              Threshold: 2000,
              ComparisonOperator: "GreaterThanThreshold",
              Dimensions: [{ Name: "Model", Value: "llama-3-8b" }],
            },
          ],
        });
        mocks.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
        const end = new Date();
        return alarms().metricHistory(specs.alarmNames, { start: new Date(end.getTime() - 60_000), end });
      },
    ],
    remove: [
      () => {
        mocks.cloudwatch.on(DescribeAlarmsCommand).resolves({
          MetricAlarms: [{ AlarmName: specs.alarmNames[0] }],
          CompositeAlarms: [{ AlarmName: specs.alarmNames.at(-1) }],
        });
        return alarms().remove(specs.alarmNames);
      },
    ],
  },
  metrics: {
    publish: [
      () =>
        metrics().publish([
          {
            model: "m",
            version: "v1",
            variant: "candidate",
            latencyMs: 12,
            error: false,
            at: "2025-06-01T12:00:00.000Z",
          },
        ]),
    ],
    startProber: [
      () => metrics().startProber({ model: "m", version: "v1", rolloutId: "r", everySeconds: 10 }),
      () => {
        // The schedule exists already: it is updated.
        mocks.scheduler
          .on(CreateScheduleCommand)
          .rejects(new ConflictException({ Message: "exists", message: "exists", $metadata: {} }));
        return metrics().startProber({ model: "m", version: "v1", rolloutId: "r", everySeconds: 10 });
      },
    ],
    stopProber: [() => metrics().stopProber("m", "v1")],
    publishTraffic: [
      () =>
        metrics().publishTraffic([
          {
            model: "m",
            version: "v1",
            variant: "candidate",
            source: "traffic",
            at: "2025-06-01T12:00:00.000Z",
            values: { Requests: 3 },
          },
        ]),
    ],
    queryPrometheus: [
      // An AMP workspace: the query is signed for the service `aps`.
      () =>
        new PrometheusQueries({
          endpoint: { kind: "amp", workspaceId: "ws-8f0a6e2b-1c3d" },
          region: REGION,
          ampUrl: prometheusUrl,
          credentials: { accessKeyId: "AKIDMODELSHIPTEST", secretAccessKey: "test-secret" },
        }).query("sum(up)", new Date("2025-06-01T12:00:00Z")),
      // A Prometheus in the cluster, through the API server's service proxy.
      () =>
        new PrometheusQueries({
          endpoint: { kind: "service", namespace: "monitoring", service: "prometheus", port: 9090 },
          region: REGION,
          connection,
        }).query("sum(up)", new Date("2025-06-01T12:00:00Z")),
    ],
  },
  hooks: {
    callFunction: [
      () => {
        mocks.lambda.on(InvokeCommand).resolves({ Payload: Buffer.from('{"pass":true}') as never });
        return lambdaHooks().callFunction("regression-check", "{}", 5000);
      },
    ],
    // A SigV4-signed GetSecretValue call to Secrets Manager's JSON API (the Prometheus test server records it).
    signingKey: [() => lambdaHooks().signingKey()],
  },
};

function executions() {
  return new StepFunctionsExecutions({
    stateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline",
    client: new SFNClient({ region: REGION }),
  });
}

/** The candidate whose pod serving.scrapeMetrics reads, once prepare deployed it. */
const scraped: { handle?: CandidateHandle } = {};

/** What a method's scenarios need in place first, not counted as what it sends: a route, a serving pod. */
async function prepare(port: PortName, method: string): Promise<void> {
  if (port === "gateway" && method !== "register") await gateway().register(candidate.model, candidate);
  if (port === "serving" && ["scale", "replicas", "autoscale"].includes(method)) {
    await serving().deploy(llamaCandidateSpec({}));
  }
  if (port === "serving" && method === "scrapeMetrics") {
    scraped.handle = await serving().deploy(llamaCandidateSpec({}));
    const pod = kubernetes.addPod("models", "llama-3-8b-v3", {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2025-06-01T12:00:00Z" }],
    });
    kubernetes.podMetrics.set(`models/${pod}:8000`, { status: 200, body: "vllm:num_requests_waiting 0\n" });
  }
}

const methods = (
  Object.entries(SCENARIOS) as [PortName, Readonly<Record<string, readonly (() => Promise<unknown>)[]>>][]
).flatMap(([port, byMethod]) =>
  Object.entries(byMethod).map(
    ([method, scenarios]) => [`${port}.${method}`, { port, method, scenarios }] as const,
  ),
);

beforeEach(() => {
  resetMocks();
  kubernetes.reset();
});

describe("The port action table (lib/aws/port-actions.ts)", () => {
  it.each(methods)(
    "lists exactly the IAM actions the AWS adapter's %s sends",
    async (_, { port, method, scenarios }) => {
      const sent = new Set<IamAction>();
      for (const scenario of scenarios) {
        resetMocks();
        kubernetes.reset();
        await prepare(port, method);
        resetMocks();
        await run(scenario);
        for (const action of sentActions()) sent.add(action);
      }
      const row =
        (PORT_ACTIONS as Record<string, Record<string, readonly IamAction[]>>)[port]?.[method] ?? [];
      expect([...sent].sort()).toEqual([...row].sort());
    },
  );
});

/** `GET /api/v1/namespaces/models/pods/x/log` → the RBAC verb, API group and resource it needs. */
function rbacOf(request: { method: string; path: string }): {
  verb: string;
  apiGroup: string;
  resource: string;
} {
  const match =
    /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/[^/]+\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?/.exec(
      request.path,
    ) ??
    // Cluster-scoped (nodes, NodePools) or across namespaces (pods): always a list here.
    /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(nodes|pods|nodepools)$/.exec(request.path);
  if (!match) throw new Error(`not a namespaced request: ${request.method} ${request.path}`);
  const [, apiGroup = "", kind = "", name, sub] = match;
  const verbs: Record<string, string> = {
    GET: name ? "get" : "list",
    POST: "create",
    PUT: "update",
    DELETE: "delete",
  };
  return { verb: verbs[request.method] ?? request.method, apiGroup, resource: sub ? `${kind}/${sub}` : kind };
}

describe("The Kubernetes access table (lib/aws/port-actions.ts)", () => {
  const kubernetesMethods = (["serving", "gateway"] as const).flatMap((port) =>
    Object.entries(KUBERNETES_ACCESS[port]).map(
      ([method, access]) => [`${port}.${method}`, access, { port, method }] as const,
    ),
  );

  it.each(kubernetesMethods)(
    "allows every Kubernetes request the adapter's %s makes (%s)",
    async (_, access, { port, method }) => {
      const scenarios =
        (SCENARIOS[port] as Record<string, readonly (() => Promise<unknown>)[]>)[method] ?? [];
      const seen: string[] = [];
      for (const scenario of scenarios) {
        kubernetes.reset();
        await prepare(port, method);
        const before = kubernetes.requests.length;
        await run(scenario);
        for (const request of kubernetes.requests.slice(before)) {
          const { verb, apiGroup, resource } = rbacOf(request);
          seen.push(`${verb} ${apiGroup}/${resource}`);
          const allowed = KUBERNETES_RULES[access].some(
            (rule) =>
              rule.apiGroups.includes(apiGroup) &&
              rule.resources.includes(resource) &&
              rule.verbs.includes(verb),
          );
          expect(allowed, `${access} allows ${verb} on ${apiGroup || "core"}/${resource}`).toBe(true);
        }
      }
      // endpoint builds a URL, shadowSamples answers that the cluster keeps no mirrored answers: no request.
      expect(seen.length > 0 || method === "endpoint" || method === "shadowSamples").toBe(true);
    },
  );
});
