// ModelPipeline: the whole of modelship on AWS as one reusable construct. An upload of a manifest under
// models/<name>/<version>/ in its bucket starts the Start function, which starts the pipeline's
// state machine (statemachines/pipeline.asl.json) whose Tasks are this construct's Lambda functions.
// Around the canary: a prober function EventBridge Scheduler invokes while a canary runs, a rule that sends a
// rollout's composite alarm going to ALARM to AlarmRollback, and one that sends commands to Command.
// The stack config (cluster, allow-lists, GPU shape, defaults) is props, checked at synth time and handed
// to every function as MODELSHIP_CONFIG. With `clusterNetwork`, the functions that reach the cluster run in
// its VPC (lib/infra/cluster-network.ts): a cluster with a private API endpoint works.

import { Annotations, ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as eks from "aws-cdk-lib/aws-eks";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type {
  CanaryMetricsConfig,
  GatewayConfig,
  GpuConfig,
  ManifestDefaults,
  ServingConfig,
  StackConfig,
} from "../core/config/config";
import { formatFinding } from "../core/findings";
import {
  type EventFunction,
  functionFileName,
  type ModelshipFunction,
  PIPELINE_FUNCTIONS,
  type PipelineFunction,
  substitutionKey,
} from "../core/state-machine/pipeline-functions";
import { resolveStackConfig } from "../core/resolution/stack-config";
import { COMMAND_DETAIL_TYPES, COMMAND_SOURCES, type CommandDetailType } from "../core/events/events";
import { REGISTRY_STATE_CHANGE } from "../pipeline/commands";
import { LAMBDA_ENVIRONMENT } from "../aws/lambda/environment";
import { clusterAccessOf } from "./cluster-roles";
import { createEventSchemaRegistry, type EventSchemaRegistry } from "./event-schema-registry";
import {
  type AccessTargets,
  functionGrants,
  type Grant,
  grantsOf,
  SCHEDULE_NAME_PREFIX,
  usesMember,
} from "./function-access";
import {
  type ClusterNetworkProps,
  clusterFunctions,
  createServiceEndpoints,
  type FunctionNetwork,
  functionNetwork,
  networkInterfaceGrant,
  warnAboutLoadPath,
} from "./cluster-network";
import { functionCode } from "./function-code";
import { acknowledgeResourcePatterns, acknowledgeUnscopableActions } from "./nag-acknowledgements";
import { PipelineDashboard } from "./pipeline-dashboard";
import { PIPELINE_DEFINITION_FILE, readPipelineDefinition } from "./pipeline-definition";

/** A partial stack config value: mappings are merged key by key over the default, lists replace it. */
export type PartialConfig<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { readonly [K in keyof T]?: PartialConfig<T[K]> }
    : T;

/** Bucket settings the construct leaves to you; encryption, TLS and the public access block are its own. */
export type ModelBucketProps = Omit<
  s3.BucketProps,
  | "encryption"
  | "encryptionKey"
  | "blockPublicAccess"
  | "enforceSSL"
  | "publicReadAccess"
  | "eventBridgeEnabled"
>;

export interface ModelPipelineProps {
  /**
   * The EKS cluster candidates run on. Functions that talk to its API may describe this cluster and no other.
   *
   * @default "modelship"
   */
  readonly clusterName?: string;
  /**
   * The Kubernetes namespace for candidate workloads, routes and their service account.
   *
   * @default "models"
   */
  readonly namespace?: string;
  /**
   * The Gateway API parent (a Gateway, optionally one of its listeners) every model's HTTPRoute attaches to.
   * Merged key by key over the default.
   *
   * @default { name: "inference-gateway", namespace: "gateway" }
   */
  readonly gatewayParent?: PartialConfig<StackConfig["gatewayParent"]>;
  /**
   * The container images a manifest may name, per runtime; anything else is refused, so write access to the
   * bucket never chooses what runs on the cluster. The first image of a runtime is its default.
   *
   * @default { vllm: ["vllm/vllm-openai:v0.11.0"], "llama.cpp": ["ghcr.io/ggml-org/llama.cpp:server"] }
   */
  readonly allowedImages?: PartialConfig<StackConfig["allowedImages"]>;
  /**
   * The extra server flags a manifest may pass (flag names, e.g. `--enable-prefix-caching`). Replaces the default list.
   *
   * @default the vLLM tuning flags of DEFAULT_STACK_CONFIG (prefix caching, chunked prefill, batch sizes, dtypes, quantization, eager mode)
   */
  readonly allowedExtraArgs?: readonly string[];
  /**
   * Whether a manifest may ask for `--trust-remote-code`, which runs Python from the bucket on the cluster.
   *
   * @default false
   */
  readonly allowTrustRemoteCode?: boolean;
  /**
   * The GPU shape: memory per GPU, GPUs per node, utilization, the KV-cache concurrency, the resource name,
   * node selector and tolerations. Merged key by key over the default.
   *
   * @default 80 GiB GPUs, 8 per node, 0.9 utilization, 16 concurrent sequences, `nvidia.com/gpu`, tolerating the `nvidia.com/gpu` taint
   */
  readonly gpu?: PartialConfig<GpuConfig>;
  /**
   * How candidates run on the cluster: how the weights get there (`init-container` copying them with
   * `loaderImage`, or `vllm-s3` streaming), the pods' service account, the server's port, CPU and memory, the
   * startup budget (a base plus seconds per GiB of weights), the readiness poll, an in-cluster URL template for
   * heavy traffic (empty: everything through the API server's service proxy) and the platform's own failure
   * signatures. Merged key by key over the default.
   *
   * @default init-container with the AWS CLI image, service account `modelship-candidate`, port 8000, 4 CPUs and 32Gi, 600 s + 20 s per GiB to start, polled every 15 s, no internal URL, no extra signatures
   */
  readonly serving?: PartialConfig<ServingConfig>;
  /**
   * How each model's HTTPRoute matches its requests — the header naming the model (an OpenAI-aware gateway sets
   * it from the body's `model`; empty: the path prefix alone) and the path prefix — and the gateway's URL as the
   * prober reaches it (empty: the prober reaches each version's server directly), and whether it implements
   * HTTPRoute session persistence, which a rollout with `rollout.stickiness` needs. Merged key by key over the
   * default.
   *
   * @default { modelHeader: "x-model-id", pathPrefix: "/v1", url: "", sessionPersistence: false }
   */
  readonly gateway?: PartialConfig<GatewayConfig>;
  /**
   * The metrics the canary's alarms watch and the prober that feeds them: the CloudWatch namespace of `Latency`,
   * `Errors` and `Requests` (by Model, Version and Variant), seconds between probe rounds, requests per variant
   * per round and their `max_tokens`, and the prefix of the canary alarms' names, which the alarm rule and the
   * alarms' IAM grants match (letters, digits, '_' and '-', ending in '-', at most 64 characters). Merged key by
   * key over the default.
   *
   * @default { namespace: "modelship", probeEverySeconds: 10, probeRequests: 2, probeMaxTokens: 8, alarmPrefix: "<stack>-<path>-<hash>-" } — the prefix named after the construct, so two pipelines in an account never act on each other's alarms
   */
  readonly canaryMetrics?: PartialConfig<CanaryMetricsConfig>;
  /**
   * Whether the construct gives modelship its access to the cluster: an EKS access entry for each function that
   * reaches it — AmazonEKSEditPolicy scoped to `namespace` for those that create or delete candidates, and
   * Kubernetes groups for narrower rights (reading candidates, reading or changing the models' HTTPRoutes,
   * scraping pods' metrics), which you bind to the Roles in docs/eks.md — and an EKS Pod Identity
   * association that lets the candidates' service account read the model bucket's `models/` prefix. Turn it
   * off when the cluster's access is managed elsewhere (its own stack, Terraform, aws-auth); then grant the
   * same yourself (README: Running candidates on EKS). The cluster's authentication mode must be API or API_AND_CONFIG_MAP.
   *
   * @default true
   */
  readonly manageClusterAccess?: boolean;
  /**
   * Runs every function that reaches the cluster or its candidates — those whose stage calls the Serving or
   * Gateway port: DeployCandidate, CheckCandidate, SmokeTest, StressWorker, EvalShard, RegisterGateway,
   * CanaryStep, Promote, Finalize, Rollback, Cleanup, the Prober, Command and AlarmRollback — inside a VPC,
   * the cluster's: a cluster whose API endpoint is private works, and the load workers reach the candidates
   * at `serving.internalUrlTemplate` (an internal load balancer). They get network interfaces in `vpcSubnets`
   * (their roles get the EC2 actions Lambda needs for that) and `securityGroups`, or a security group of their
   * own, egress only, which the platform team allows on the cluster's API and the candidates' side
   * (docs/eks.md). With `createVpcEndpoints`, the construct creates the endpoints of the AWS services they call.
   * A `serving.internalUrlTemplate` without this prop is warned about at synth.
   *
   * @default - every function runs outside any VPC and reaches the cluster at its public endpoint; leave `serving.internalUrlTemplate` empty (load through the service proxy) or point it at a URL reachable from the internet
   */
  readonly clusterNetwork?: ClusterNetworkProps;
  /**
   * What a manifest inherits when it leaves a field out: serving, gates and rollout settings. Merged key by
   * key over the default.
   *
   * @default DEFAULT_STACK_CONFIG.defaults (vLLM, all gates on, canary 5 → 25 → 50 → 100% with 10-minute bakes)
   */
  readonly defaults?: PartialConfig<ManifestDefaults>;
  /**
   * Eval suites are split into shards of at most this many items, one Map iteration each.
   *
   * @default 50
   */
  readonly evalShardSize?: number;
  /**
   * A bucket you already have, instead of one the construct creates. It must send its events to EventBridge
   * (S3 "Amazon EventBridge" notifications on), or uploads start nothing. If a KMS key encrypts it, import it
   * with that key (`Bucket.fromBucketAttributes({ bucketName, encryptionKey })`) so the functions may use the key.
   * Providing both this and `bucketProps` is an error.
   *
   * @default - a bucket is created: KMS-encrypted with the construct's key, TLS only, public access blocked, versioned, access-logged
   */
  readonly existingBucket?: s3.IBucket;
  /**
   * Settings for the bucket the construct creates, over its defaults. Encryption, TLS and the public access block
   * are not yours to change. Providing both this and `existingBucket` is an error.
   *
   * @default - versioned, S3 bucket keys on, access logs to a bucket the construct creates
   */
  readonly bucketProps?: ModelBucketProps;
  /**
   * An event bus you already have, for modelship's events and the commands it accepts. Providing both this and
   * `eventBusProps` is an error.
   *
   * @default - an event bus is created, named after the construct: `<stack>-<path>-<hash>` (`ModelPipeline.eventBus`)
   */
  readonly existingEventBus?: events.IEventBus;
  /**
   * Settings for the event bus the construct creates. Providing both this and `existingEventBus` is an error.
   *
   * @default - the bus is named after the construct: `<stack>-<path>-<hash>`, unique in the account and region
   */
  readonly eventBusProps?: events.EventBusProps;
  /**
   * How long the functions' and the state machine's logs are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the stateful resources (key, buckets, table, log groups) when they leave the stack.
   * A bucket is deleted only when empty.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Who may send the pipeline its commands (`Rollout Requested`, `Rollback Requested`, `Promote Requested`,
   * `Abort Requested`): the roles or users (an `ArnPrincipal` for an ARN) of the people and automation that
   * operate rollouts — the role `modelship rollback|promote|abort` runs as, an admin role. The bus's policy
   * denies `events:PutEvents` of those detail-types to every other principal, whatever its IAM policies allow;
   * modelship's own events go through as before.
   *
   * @default - nobody: no principal may put a command on the bus (the safest default: commands roll out and roll back, so they are granted by name). The alarms and the state machine still roll back by themselves.
   */
  readonly commandPrincipals?: readonly iam.IPrincipal[];
  /**
   * The Lambda functions a manifest may name as rollout hooks (`gates.hooks[].lambda: <name>`), by the name
   * manifests use. A manifest naming any other function is refused at Prepare with a finding: write access to
   * the bucket never means invoking a function of the account. Only the RunHooks function may invoke them, and
   * nothing else. Each gets the hook's request as its event and returns `{"pass": boolean, "reason": string}`.
   *
   * @default - none: manifests may name no function hook.
   */
  readonly allowedHookFunctions?: Readonly<Record<string, lambda.IFunction>>;
  /**
   * The Secrets Manager secret whose value (SecretString) signs URL hooks' request bodies with HMAC-SHA256
   * (header `x-modelship-signature: sha256=<hex>`, docs/hooks.md). Only the RunHooks function may read it.
   *
   * @default - none: manifests may name no URL hook (an unsigned request would let anyone answer for a hook).
   */
  readonly hookSigningSecret?: secretsmanager.ISecret;
  /**
   * The name of the pipeline's CloudWatch dashboard (executions by outcome, stage durations, each version's
   * latency/errors/TTFT against the default thresholds, canary weight changes, rollbacks and their reasons).
   *
   * @default - derived from the construct's path, like the bus and the state machine
   */
  readonly dashboardName?: string;
  /**
   * Registers the JSON Schemas of the events modelship emits in an EventBridge schema registry named after the
   * construct (`<stack>-<path>-<hash>`): one OpenAPI 3 schema per detail-type, `modelship@RolloutStarted` …,
   * from which the registry generates code bindings. The same schemas ship in the package (schemas/events/).
   *
   * @default false
   */
  readonly publishEventSchemas?: boolean;
}

const ROLLOUT_REQUESTED: CommandDetailType = "Rollout Requested";
/** The commands Command takes; `Rollout Requested` goes to Start. */
const ROLLOUT_COMMANDS: readonly CommandDetailType[] = [
  "Rollback Requested",
  "Promote Requested",
  "Abort Requested",
  "Approve Requested",
  "Reject Requested",
];
/**
 * The longest construct-derived base name: the schedule group (at most 64 characters) adds `-probers`, the
 * state machine (80) `-pipeline`, and the alarm prefix (64) `-`.
 */
const MAX_BASE_NAME = 48;
/** The handler files (functions/<name>.ts) of the functions events invoke. */
const EVENT_FUNCTION_FILES: Readonly<Record<EventFunction, string>> = {
  Prober: "prober",
  Command: "command",
  AlarmRollback: "alarm-rollback",
};

/** Lambda allows 4 KB of environment variables in all; the other variables take well under 600 bytes. */
const MAX_CONFIG_BYTES = 3_500;
/** For functions no Task names (their timeout comes from the state machine otherwise). */
const DEFAULT_TIMEOUT = Duration.seconds(60);
/** The stage metrics' namespace (StageDuration, StageFailed): one for all pipelines, told apart by `service`. */
const POWERTOOLS_METRICS_NAMESPACE = "modelship";
/** A minute of probe rounds per invocation (Scheduler's shortest rate; a round is at most 60 s apart), and a margin. */
const PROBER_TIMEOUT = Duration.seconds(90);
const MAX_LAMBDA_TIMEOUT_SECONDS = 900;
/**
 * How far below its Tasks' TimeoutSeconds a pipeline function's Lambda timeout is. The Task's clock starts when
 * Step Functions schedules the invocation, the function's when it is invoked: a cold start's init phase (at
 * most 10 s for on-demand functions) and the invocation itself come before. With this margin the function's
 * own timeout comes first, so Step Functions reports a Lambda timeout (`Sandbox.Timedout`, or the function's
 * own TimeoutError as it runs out of time) instead of a `States.Timeout` that says nothing of the function.
 */
export const TASK_TIMEOUT_MARGIN_SECONDS = 15;
const DEFAULT_MEMORY_MB = 512;
/** Memory of the functions that need more than the default: what bench/hostile measures Validate against. */
export const FUNCTION_MEMORY_MB: Partial<Record<ModelshipFunction, number>> = {
  Validate: 1024,
  StressWorker: 1024,
};

export class ModelPipeline extends Construct {
  /** The resolved stack config the functions run with. */
  readonly config: StackConfig;
  /** Encrypts the bucket (when the construct creates it) and the rollout table. Rotated yearly. */
  readonly key: kms.Key;
  readonly bucket: s3.IBucket;
  /** The bucket's server access logs, when the construct created the bucket and its log destination. */
  readonly accessLogsBucket?: s3.Bucket;
  readonly eventBus: events.IEventBus;
  readonly rolloutTable: dynamodb.Table;
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineLogGroup: logs.LogGroup;
  /** Start, one function per pipeline stage, the prober, Command and AlarmRollback, by name. */
  readonly functions: Readonly<Record<ModelshipFunction, NodejsFunction>>;
  /** Manifest uploads (default bus, from S3) → Start. */
  readonly manifestUploadedRule: events.Rule;
  /** `Rollout Requested` commands on the modelship bus → Start. */
  readonly rolloutRequestedRule: events.Rule;
  /** Events the Start function could not take, after EventBridge's and Lambda's retries. */
  readonly startDeadLetterQueue: sqs.Queue;
  /**
   * A rollout's composite alarm (named with this pipeline's alarm prefix, the one alarm over all of its others) going to ALARM, on
   * the default bus → AlarmRollback: the rollback happens within seconds, even while the execution waits.
   */
  readonly alarmRollbackRule: events.Rule;
  /**
   * `Rollback Requested`, `Promote Requested`, `Abort Requested`, `Approve Requested` and `Reject Requested`
   * commands on the modelship bus → Command.
   */
  readonly commandsRule: events.Rule;
  /**
   * A model registry version set to Approved or Rejected (SageMaker's "Model Package State Change", default
   * bus) → Command, which describes the package and answers the rollout waiting for that version's approval
   * (a package modelship did not register answers nothing).
   */
  readonly registryApprovalRule: events.Rule;
  /**
   * The bus's policy statement that denies putting commands to every principal but `commandPrincipals`.
   */
  readonly commandsPolicy: events.CfnEventBusPolicy;
  /** Alarm and command events AlarmRollback or Command could not take, after EventBridge's and Lambda's retries. */
  readonly commandDeadLetterQueue: sqs.Queue;
  /** The EventBridge Scheduler group the prober's schedules live in (`<base name>-probers`). */
  readonly proberScheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler invokes the prober with: it may invoke the prober and nothing else. */
  readonly schedulerRole: iam.Role;
  /**
   * The role of the candidates' service account (EKS Pod Identity): reads `models/*` of the bucket and nothing
   * else. Absent when `manageClusterAccess` is false.
   */
  readonly candidateRole?: iam.Role;
  /** The schema registry of the pipeline's events and its schemas, when `publishEventSchemas` is true. */
  readonly eventSchemaRegistry?: EventSchemaRegistry;
  /** The secret that signs URL hooks (the prop), for the grants. */
  private readonly hookSigningSecret: secretsmanager.ISecret | undefined;
  /** The EKS access entries of the functions that manage candidates, by function. Empty when `manageClusterAccess` is false. */
  readonly clusterAccessEntries: Readonly<Partial<Record<ModelshipFunction, eks.CfnAccessEntry>>>;
  /**
   * The security groups of the functions in `clusterNetwork.vpc` — the ones given, or the one the construct
   * created — for the rules that let them reach the cluster's API and the candidates. Empty without
   * `clusterNetwork`.
   */
  readonly clusterNetworkSecurityGroups: readonly ec2.ISecurityGroup[];
  /** The VPC endpoints the construct created (`clusterNetwork.createVpcEndpoints`), by service prefix. */
  readonly vpcEndpoints: Readonly<Record<string, ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint>>;
  /** The pipeline's CloudWatch dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ModelPipelineProps = {}) {
    super(scope, id);
    checkPropConflicts(props);
    const baseName = Names.uniqueResourceName(this, { maxLength: MAX_BASE_NAME, separator: "-" });
    this.config = resolvePipelineConfig(this, props, `${baseName}-`);
    this.hookSigningSecret = props.hookSigningSecret;
    warnAboutLoadPath(this, this.config.serving, props.clusterNetwork);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const definition = readPipelineDefinition(PIPELINE_FUNCTIONS.map(substitutionKey));

    this.key = new kms.Key(this, "Key", {
      description: "modelship: the model bucket, the rollout table",
      enableKeyRotation: true,
      removalPolicy,
    });
    if (props.existingBucket) {
      this.bucket = props.existingBucket;
    } else {
      const created = this.createBucket(props.bucketProps ?? {}, removalPolicy);
      this.bucket = created.bucket;
      this.accessLogsBucket = created.accessLogsBucket;
    }
    this.eventBus =
      props.existingEventBus ??
      new events.EventBus(this, "EventBus", { eventBusName: baseName, ...props.eventBusProps });
    if (props.publishEventSchemas) this.eventSchemaRegistry = createEventSchemaRegistry(this, baseName);
    this.rolloutTable = new dynamodb.Table(this, "RolloutTable", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: "ttl",
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy,
    });

    const network = props.clusterNetwork && functionNetwork(this, props.clusterNetwork);
    this.clusterNetworkSecurityGroups = network?.securityGroups ?? [];
    this.vpcEndpoints =
      network && props.clusterNetwork?.createVpcEndpoints ? createServiceEndpoints(this, network) : {};
    const functionSettings = { logRetention, removalPolicy, network };
    const environment = this.functionEnvironment(baseName);
    this.proberScheduleGroup = new scheduler.ScheduleGroup(this, "ProberSchedules", {
      scheduleGroupName: `${baseName}-probers`,
      // Schedules live only while a canary runs; nothing in the group is worth keeping.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const prober = this.createFunction(
      "Prober",
      EVENT_FUNCTION_FILES.Prober,
      PROBER_TIMEOUT,
      { ...environment, ...this.proberEnvironment("Prober", undefined) },
      functionSettings,
    );
    this.schedulerRole = this.createSchedulerRole(prober);
    const environmentOf = (name: ModelshipFunction): Record<string, string> => ({
      ...environment,
      ...this.proberEnvironment(name, prober),
      ...(props.hookSigningSecret &&
        usesMember(name, "hooks", "signingKey") && {
          [LAMBDA_ENVIRONMENT.hookSigningSecretArn]: props.hookSigningSecret.secretArn,
        }),
    });
    const timeoutOf = (name: PipelineFunction): Duration => {
      const taskTimeout = definition.taskTimeoutSeconds.get(substitutionKey(name));
      return taskTimeout === undefined ? DEFAULT_TIMEOUT : lambdaTimeout(name, taskTimeout);
    };
    const pipelineFunctions = Object.fromEntries(
      PIPELINE_FUNCTIONS.map((name) => [
        name,
        this.createFunction(
          name,
          functionFileName(name),
          timeoutOf(name),
          environmentOf(name),
          functionSettings,
        ),
      ]),
    ) as Record<PipelineFunction, NodejsFunction>;

    this.stateMachineLogGroup = new logs.LogGroup(this, "StateMachineLogs", {
      // The /aws/vendedlogs/ prefix keeps the log group out of CloudWatch Logs' resource policy size limit.
      // Kept when the stack is deleted, so the name carries the stack's own id: a stack created again with the
      // same name gets a log group of its own instead of failing on the retained one.
      logGroupName: `/aws/vendedlogs/states/${baseName}-pipeline-${stackIdSuffix()}`,
      retention: logRetention,
      removalPolicy,
    });
    this.stateMachine = this.createStateMachine(
      `${baseName}-pipeline`,
      pipelineFunctions,
      this.stateMachineLogGroup,
    );

    this.startDeadLetterQueue = new sqs.Queue(this, "StartDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const start = this.createFunction(
      "Start",
      "start",
      DEFAULT_TIMEOUT,
      { ...environment, [LAMBDA_ENVIRONMENT.stateMachineArn]: this.stateMachine.stateMachineArn },
      functionSettings,
      this.startDeadLetterQueue,
    );
    this.commandDeadLetterQueue = new sqs.Queue(this, "CommandDeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // They run the Rollback stage, so they get as long as its Task; they answer a waiting approval's task
    // token (SendTaskSuccess/SendTaskFailure on the state machine), so they know its ARN.
    const [command, alarmRollback] = (["Command", "AlarmRollback"] as const).map((name) =>
      this.createFunction(
        name,
        EVENT_FUNCTION_FILES[name],
        timeoutOf("Rollback"),
        { ...environmentOf(name), [LAMBDA_ENVIRONMENT.stateMachineArn]: this.stateMachine.stateMachineArn },
        functionSettings,
        this.commandDeadLetterQueue,
      ),
    ) as [NodejsFunction, NodejsFunction];
    this.functions = {
      Start: start,
      ...pipelineFunctions,
      Prober: prober,
      Command: command,
      AlarmRollback: alarmRollback,
    };
    this.dashboard = new PipelineDashboard(this, "Dashboard", {
      dashboardName: props.dashboardName ?? baseName,
      stateMachine: this.stateMachine,
      serviceName: baseName,
      stageMetricsNamespace: POWERTOOLS_METRICS_NAMESPACE,
      config: this.config,
      rolloutLogGroups: (["CanaryStep", "Promote", "Rollback", "AlarmRollback", "Command"] as const).map(
        (name) => this.functions[name].logGroup,
      ),
    }).dashboard;

    const startTarget = new targets.LambdaFunction(start, {
      deadLetterQueue: this.startDeadLetterQueue,
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    });
    this.manifestUploadedRule = new events.Rule(this, "ManifestUploadedRule", {
      description: "modelship: a manifest uploaded under models/<name>/<version>/ starts a rollout",
      eventPattern: {
        source: ["aws.s3"],
        detailType: ["Object Created"],
        detail: {
          bucket: { name: [this.bucket.bucketName] },
          object: { key: events.Match.wildcard("models/*/*/modelship.*") },
        },
      },
      targets: [startTarget],
    });
    this.rolloutRequestedRule = new events.Rule(this, "RolloutRequestedRule", {
      description: `modelship: a "${ROLLOUT_REQUESTED}" command starts a rollout`,
      eventBus: this.eventBus,
      eventPattern: { source: [...Object.values(COMMAND_SOURCES)], detailType: [ROLLOUT_REQUESTED] },
      targets: [startTarget],
    });
    const commandTarget = (fn: NodejsFunction) =>
      new targets.LambdaFunction(fn, {
        deadLetterQueue: this.commandDeadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(1),
      });
    this.alarmRollbackRule = new events.Rule(this, "AlarmRollbackRule", {
      description: "modelship: a rollout's composite alarm going to ALARM rolls the rollout back",
      eventPattern: {
        source: ["aws.cloudwatch"],
        detailType: ["CloudWatch Alarm State Change"],
        detail: {
          alarmName: events.Match.prefix(this.config.canaryMetrics.alarmPrefix),
          state: { value: ["ALARM"] },
          // Only composite alarms carry an alarm rule: one signal per rollout, not one per alarm it combines.
          configuration: { alarmRule: events.Match.exists() },
        },
      },
      targets: [commandTarget(alarmRollback)],
    });
    this.commandsRule = new events.Rule(this, "CommandsRule", {
      description: `modelship: ${ROLLOUT_COMMANDS.map((c) => `"${c}"`).join(", ")} commands`,
      eventBus: this.eventBus,
      eventPattern: { source: [...Object.values(COMMAND_SOURCES)], detailType: [...ROLLOUT_COMMANDS] },
      targets: [commandTarget(command)],
    });
    this.registryApprovalRule = new events.Rule(this, "RegistryApprovalRule", {
      description:
        "modelship: a version it registered set to Approved or Rejected in the model registry answers its rollout's approval",
      eventPattern: {
        source: ["aws.sagemaker"],
        detailType: [REGISTRY_STATE_CHANGE],
        // Only fields AWS's example of the event shows (SageMaker Developer Guide, "Events that Amazon
        // SageMaker AI sends to Amazon EventBridge"): it has no CustomerMetadataProperties to tell modelship's
        // packages by, and their groups are named after models not known in advance. The Command describes
        // the package and acts only on a rollout of this pipeline's table that waits with it.
        detail: { ModelApprovalStatus: ["Approved", "Rejected"] },
      },
      targets: [commandTarget(command)],
    });
    this.commandsPolicy = this.restrictCommands(props.commandPrincipals ?? []);

    const access = this.grantFunctionAccess();
    if (props.manageClusterAccess ?? true) {
      this.clusterAccessEntries = this.createClusterAccessEntries();
      this.candidateRole = this.createCandidateRole(access);
    } else {
      this.clusterAccessEntries = {};
    }
  }

  /**
   * An explicit Deny on the bus: `events:PutEvents` of a command detail-type (the `events:detail-type`
   * condition key, EventBridge's condition keys for PutEvents) by any principal outside `principals`. A Deny in
   * the resource's policy holds for callers of this account too, whatever their own policies allow.
   */
  private restrictCommands(principals: readonly iam.IPrincipal[]): events.CfnEventBusPolicy {
    const arns = principals.map(principalArn);
    const sid = "OnlyCommandPrincipalsSendCommands";
    // By the bus's name, so a bus the construct was given (imported, even from another stack) gets it too.
    return new events.CfnEventBusPolicy(this, "CommandsPolicy", {
      eventBusName: this.eventBus.eventBusName,
      statementId: sid,
      statement: new iam.PolicyStatement({
        sid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ["events:PutEvents"],
        resources: [this.eventBus.eventBusArn],
        conditions: {
          StringEquals: { "events:detail-type": [...COMMAND_DETAIL_TYPES] },
          ...(arns.length > 0 && { ArnNotEquals: { "aws:PrincipalArn": arns } }),
        },
      }).toStatementJson(),
    });
  }

  /**
   * Each function's rights in the cluster, from the port methods its stage calls (lib/infra/cluster-roles.ts):
   * edit rights in the candidates' namespace, and only there, for those that create or delete candidates;
   * Kubernetes groups, which the platform team binds to Roles (docs/eks.md), for everything narrower.
   */
  private createClusterAccessEntries(): Partial<Record<ModelshipFunction, eks.CfnAccessEntry>> {
    const entries: Partial<Record<ModelshipFunction, eks.CfnAccessEntry>> = {};
    for (const [name, fn] of Object.entries(this.functions) as [ModelshipFunction, NodejsFunction][]) {
      const { editNamespace, kubernetesGroups } = clusterAccessOf(name, this.config);
      if ((!editNamespace && kubernetesGroups.length === 0) || !fn.role) continue;
      entries[name] = new eks.CfnAccessEntry(this, `${name}ClusterAccess`, {
        clusterName: this.config.clusterName,
        principalArn: fn.role.roleArn,
        type: "STANDARD",
        ...(kubernetesGroups.length > 0 && { kubernetesGroups: [...kubernetesGroups] }),
        ...(editNamespace && {
          accessPolicies: [
            {
              policyArn: `arn:${Aws.PARTITION}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
              accessScope: { type: "namespace", namespaces: [this.config.namespace] },
            },
          ],
        }),
      });
    }
    return entries;
  }

  /**
   * The role EventBridge Scheduler assumes to invoke the prober: trusted only by Scheduler on behalf of this
   * account's prober schedule group (the confused-deputy conditions), allowed only to invoke the prober.
   */
  private createSchedulerRole(prober: NodejsFunction): iam.Role {
    const role = new iam.Role(this, "SchedulerRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID },
          ArnEquals: { "aws:SourceArn": this.proberScheduleGroup.scheduleGroupArn },
        },
      }),
      description: "modelship: EventBridge Scheduler invokes the canary's prober with it",
    });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [prober.functionArn] }),
    );
    return role;
  }

  /**
   * What a function that starts the prober needs to create its schedule (the prober's ARN, the scheduler's role,
   * the group), and what one that stops it needs (the group) — the prober among them, which stops its own
   * schedule once its rollout is over; its own ARN in its environment would be a circular reference.
   */
  private proberEnvironment(
    name: ModelshipFunction,
    prober: NodejsFunction | undefined,
  ): Record<string, string> {
    const starts = usesMember(name, "metrics", "startProber");
    if (!starts && !usesMember(name, "metrics", "stopProber")) return {};
    if (starts && !prober)
      throw new Error(`ModelPipeline: ${name} starts the prober, so it is created after it.`);
    return {
      [LAMBDA_ENVIRONMENT.scheduleGroup]: this.proberScheduleGroup.scheduleGroupName,
      ...(starts &&
        prober && {
          [LAMBDA_ENVIRONMENT.proberFunctionArn]: prober.functionArn,
          [LAMBDA_ENVIRONMENT.schedulerRoleArn]: this.schedulerRole.roleArn,
        }),
    };
  }

  /** The candidates' pods read the weights under models/ (and decrypt them) through EKS Pod Identity. */
  private createCandidateRole(access: AccessTargets): iam.Role {
    const role = new iam.Role(this, "CandidateRole", {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal("pods.eks.amazonaws.com")),
      description: `modelship candidates (service account ${this.config.namespace}/${this.config.serving.serviceAccountName}): read model weights`,
    });
    applyGrants(
      role,
      grantsOf(
        [
          { action: "s3:GetObject", area: "models" },
          { action: "s3:ListBucket", area: "models" },
        ],
        access,
      ),
    );
    new eks.CfnPodIdentityAssociation(this, "CandidatePodIdentity", {
      clusterName: this.config.clusterName,
      namespace: this.config.namespace,
      serviceAccount: this.config.serving.serviceAccountName,
      roleArn: role.roleArn,
    });
    return role;
  }

  private createStateMachine(
    stateMachineName: string,
    pipelineFunctions: Record<PipelineFunction, NodejsFunction>,
    logGroup: logs.ILogGroup,
  ): sfn.StateMachine {
    const stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(PIPELINE_DEFINITION_FILE),
      definitionSubstitutions: Object.fromEntries(
        PIPELINE_FUNCTIONS.map((name) => [substitutionKey(name), pipelineFunctions[name].functionArn]),
      ),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The definition comes from a file, so CDK cannot see which functions it calls: grant exactly those.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: PIPELINE_FUNCTIONS.map((name) => pipelineFunctions[name].functionArn),
      }),
    );
    acknowledgeUnscopableActions(
      stateMachine.role,
      "The CloudWatch Logs delivery actions Step Functions logging needs and X-Ray's PutTraceSegments/PutTelemetryRecords",
    );
    return stateMachine;
  }

  private createBucket(
    bucketProps: ModelBucketProps,
    removalPolicy: RemovalPolicy,
  ): { bucket: s3.Bucket; accessLogsBucket?: s3.Bucket } {
    let accessLogsBucket: s3.Bucket | undefined;
    if (!bucketProps.serverAccessLogsBucket) {
      // S3 delivers server access logs only to a bucket with S3-managed encryption, not KMS.
      accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        removalPolicy,
      });
    }
    const bucket = new s3.Bucket(this, "Bucket", {
      versioned: true,
      bucketKeyEnabled: true,
      removalPolicy,
      ...(accessLogsBucket && {
        serverAccessLogsBucket: accessLogsBucket,
        serverAccessLogsPrefix: "model-bucket/",
      }),
      ...bucketProps,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
    });
    // The L1 setting, not `eventBridgeEnabled: true`, which would add a custom-resource Lambda to do the same.
    (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    return accessLogsBucket ? { bucket, accessLogsBucket } : { bucket };
  }

  /** `serviceName`: the functions' Powertools service — the `service` dimension of their stage metrics. */
  private functionEnvironment(serviceName: string): Record<string, string> {
    const config = JSON.stringify(this.config);
    if (config.length > MAX_CONFIG_BYTES) {
      throw new Error(
        `ModelPipeline: the stack config is ${config.length} bytes as JSON; it travels to every function as the ` +
          `${LAMBDA_ENVIRONMENT.config} environment variable, and Lambda allows 4 KiB of environment in all ` +
          `(${MAX_CONFIG_BYTES} bytes for the config). Shorten the allow-lists or the default smoke prompts.`,
      );
    }
    return {
      [LAMBDA_ENVIRONMENT.bucket]: this.bucket.bucketName,
      [LAMBDA_ENVIRONMENT.table]: this.rolloutTable.tableName,
      [LAMBDA_ENVIRONMENT.eventBus]: this.eventBus.eventBusName,
      [LAMBDA_ENVIRONMENT.config]: config,
      // One service per pipeline: two pipelines in an account keep their stage metrics (and dashboards) apart.
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_METRICS_NAMESPACE,
      // Stack traces point into the TypeScript sources (the bundles carry source maps).
      NODE_OPTIONS: "--enable-source-maps",
    };
  }

  private createFunction(
    name: ModelshipFunction,
    fileName: string,
    timeout: Duration,
    environment: Record<string, string>,
    settings: {
      readonly logRetention: logs.RetentionDays;
      readonly removalPolicy: RemovalPolicy;
      readonly network: FunctionNetwork | undefined;
    },
    deadLetterQueue?: sqs.IQueue,
  ): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    // A role of its own with no managed policy: it may write to its own log group and nothing else yet.
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `modelship ${name} function`,
    });
    logGroup.grantWrite(role);
    acknowledgeUnscopableActions(role, "X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing)");
    const network = clusterFunctions().includes(name) ? settings.network : undefined;
    // In the role's default policy, which the function depends on: Lambda creates its network interfaces
    // with the role as the function is created.
    if (network) applyGrants(role, [networkInterfaceGrant()]);
    return new NodejsFunction(this, `${name}Function`, {
      description: `modelship: ${name}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: FUNCTION_MEMORY_MB[name] ?? DEFAULT_MEMORY_MB,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment,
      ...(deadLetterQueue && { deadLetterQueue }),
      ...network,
      ...functionCode(fileName),
    });
  }

  private grantFunctionAccess(): AccessTargets {
    const stack = Stack.of(this);
    const arn = (service: string, resource: string, resourceName: string, arnFormat: ArnFormat) =>
      stack.formatArn({ service, resource, resourceName, arnFormat });
    const access: AccessTargets = {
      bucket: this.bucket,
      tableArn: this.rolloutTable.tableArn,
      tableKey: this.key,
      eventBusArn: this.eventBus.eventBusArn,
      stateMachineArn: this.stateMachine.stateMachineArn,
      clusterArn: arn("eks", "cluster", this.config.clusterName, ArnFormat.SLASH_RESOURCE_NAME),
      alarmsArn: arn(
        "cloudwatch",
        "alarm",
        `${this.config.canaryMetrics.alarmPrefix}*`,
        ArnFormat.COLON_RESOURCE_NAME,
      ),
      proberSchedulesArn: arn(
        "scheduler",
        "schedule",
        `${this.proberScheduleGroup.scheduleGroupName}/${SCHEDULE_NAME_PREFIX}*`,
        ArnFormat.SLASH_RESOURCE_NAME,
      ),
      schedulerRoleArn: this.schedulerRole.roleArn,
      modelPackageGroupsArn: arn("sagemaker", "model-package-group", "*", ArnFormat.SLASH_RESOURCE_NAME),
      modelPackagesArn: arn("sagemaker", "model-package", "*", ArnFormat.SLASH_RESOURCE_NAME),
      ...prometheusWorkspace(stack, this.config),
      hookFunctionArns: this.config.hooks.functions.flatMap((fn) => (fn.arn ? [fn.arn] : [])),
      ...(this.hookSigningSecret && { hookSigningSecretArn: this.hookSigningSecret.secretArn }),
    };
    for (const [name, fn] of Object.entries(this.functions) as [ModelshipFunction, NodejsFunction][]) {
      if (fn.role) applyGrants(fn.role, functionGrants(name, access));
      // A secret under a customer managed key is read only by a role that may decrypt with that key.
      if (fn.role && usesMember(name, "hooks", "signingKey"))
        this.hookSigningSecret?.encryptionKey?.grantDecrypt(fn.role);
    }
    return access;
  }
}

/** The AMP workspace the prober queries, when the stack's Prometheus is one (`arn:…:aps:<region>:<account>:workspace/<id>`). */
function prometheusWorkspace(stack: Stack, config: StackConfig): { prometheusWorkspaceArn?: string } {
  const endpoint = config.canaryMetrics.prometheus?.endpoint;
  if (endpoint?.kind !== "amp") return {};
  return {
    prometheusWorkspaceArn: stack.formatArn({
      service: "aps",
      resource: "workspace",
      resourceName: endpoint.workspaceId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      ...(endpoint.region === undefined ? {} : { region: endpoint.region }),
    }),
  };
}

/** Adds the grants to the role, acknowledging each resource pattern with its grant's reason. */
function applyGrants(role: iam.IRole, grants: readonly Grant[]): void {
  for (const { statement, patternReason } of grants) {
    role.addToPrincipalPolicy(statement);
    const patterns = statement.resources.filter((resource) => resource.includes("*"));
    if (patternReason && patterns.length > 0) acknowledgeResourcePatterns(role, patterns, patternReason);
  }
}

/** The ARN a command principal is known by to `aws:PrincipalArn`: a role's, a user's, or an ARN principal's. */
function principalArn(principal: iam.IPrincipal): string {
  if ("roleArn" in principal && typeof principal.roleArn === "string") return principal.roleArn;
  if ("userArn" in principal && typeof principal.userArn === "string") return principal.userArn;
  if (principal instanceof iam.ArnPrincipal) return principal.arn;
  throw new Error(
    `ModelPipeline: commandPrincipals takes roles, users or ArnPrincipals (their ARN is what the bus's policy names), not ${principal.constructor.name}.`,
  );
}

function checkPropConflicts(props: ModelPipelineProps): void {
  const conflicts: string[] = [];
  if (props.existingBucket && props.bucketProps) {
    conflicts.push(
      "existingBucket and bucketProps: bucketProps configures the bucket the construct creates; with existingBucket it creates none.",
    );
  }
  if (props.existingEventBus && props.eventBusProps) {
    conflicts.push(
      "existingEventBus and eventBusProps: eventBusProps configures the bus the construct creates; with existingEventBus it creates none.",
    );
  }
  if (conflicts.length > 0) {
    throw new Error(`ModelPipeline: conflicting props — give one of each pair:\n  ${conflicts.join("\n  ")}`);
  }
}

/** The resolved config; the alarm prefix is `defaultAlarmPrefix` unless the props give one. */
function resolvePipelineConfig(
  scope: Construct,
  props: ModelPipelineProps,
  defaultAlarmPrefix: string,
): StackConfig {
  const partial = {
    clusterName: props.clusterName,
    namespace: props.namespace,
    gatewayParent: props.gatewayParent,
    allowedImages: props.allowedImages,
    allowedExtraArgs: props.allowedExtraArgs,
    allowTrustRemoteCode: props.allowTrustRemoteCode,
    gpu: props.gpu,
    serving: props.serving,
    gateway: props.gateway,
    canaryMetrics: { alarmPrefix: defaultAlarmPrefix, ...props.canaryMetrics },
    defaults: props.defaults,
    evalShardSize: props.evalShardSize,
    hooks: {
      functions: Object.entries(props.allowedHookFunctions ?? {}).map(([name, fn]) => ({
        name,
        arn: fn.functionArn,
      })),
      urlHooks: props.hookSigningSecret !== undefined,
    },
  };
  // Through JSON: the config is data, and a prop left undefined must fall back to its default, not replace it.
  const { config, findings } = resolveStackConfig(JSON.parse(JSON.stringify(partial)), "ModelPipeline props");
  if (!config) {
    throw new Error(
      ["ModelPipeline: the stack config is invalid. Every problem:", ...findings.map(formatFinding)].join(
        "\n",
      ),
    );
  }
  for (const finding of findings) {
    Annotations.of(scope).addWarningV2(`modelship:${finding.code}`, formatFinding(finding));
  }
  return config;
}

/** The Lambda timeout of a function whose shortest Task allows `taskTimeoutSeconds`: the margin below it. */
function lambdaTimeout(name: ModelshipFunction, taskTimeoutSeconds: number): Duration {
  const seconds = taskTimeoutSeconds - TASK_TIMEOUT_MARGIN_SECONDS;
  const limits = `a Lambda function runs at most ${MAX_LAMBDA_TIMEOUT_SECONDS} s, and its Task waits ${TASK_TIMEOUT_MARGIN_SECONDS} s longer than it runs`;
  if (seconds > MAX_LAMBDA_TIMEOUT_SECONDS) {
    throw new Error(
      `${PIPELINE_DEFINITION_FILE}: a Task running ${name} has TimeoutSeconds ${taskTimeoutSeconds}, but ${limits}: ` +
        `at most ${MAX_LAMBDA_TIMEOUT_SECONDS + TASK_TIMEOUT_MARGIN_SECONDS}. Split the work (a Map, or a Wait-and-check loop) or lower the timeout.`,
    );
  }
  if (seconds < 1) {
    throw new Error(
      `${PIPELINE_DEFINITION_FILE}: a Task running ${name} has TimeoutSeconds ${taskTimeoutSeconds}, but ${limits}: ` +
        `give it more than ${TASK_TIMEOUT_MARGIN_SECONDS}.`,
    );
  }
  return Duration.seconds(seconds);
}

/** The first 8 hex digits of the stack's id (`arn:…:stack/<name>/<uuid>`): new with each stack created. */
function stackIdSuffix(): string {
  return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))));
}
