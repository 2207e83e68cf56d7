// The stage dependencies (lib/pipeline/deps.ts) of a Lambda function on AWS: the adapters of lib/aws over
// the bucket, table, bus and state machine the environment names, the stack config's EKS cluster (candidates
// and the models' HTTPRoutes), the SageMaker Model Registry, CloudWatch alarms, and the prober's schedules.
// Built on the first invocation and kept for the life of the container, so SDK clients, connections and
// the cluster's description are reused across invocations; each port that reaches a service is built on its
// first use, so a function never touches what its stage does not call (nor needs the grants for it).

import { setTimeout as delay } from "node:timers/promises";
import type { StageDeps } from "../../pipeline/deps";
import type { Alarms, Clock, Executions, Gateway, Hooks, Metrics, Registry, Serving } from "../../ports";
import { CloudWatchAlarms } from "../cloudwatch-alarms";
import { CloudWatchMetrics } from "../cloudwatch-metrics";
import { DynamoRolloutStore } from "../dynamodb-rollout-store";
import { type ClusterConnection, eksClusterConnection } from "../eks/cluster";
import { EksServing } from "../eks/eks-serving";
import { EventBridgeEvents } from "../eventbridge-events";
import { HttpRouteGateway } from "../gateway/httproute-gateway";
import { LambdaHooks } from "../lambda-hooks";
import { PrometheusQueries } from "../prometheus-queries";
import { S3ObjectStore } from "../s3-object-store";
import { SageMakerRegistry } from "../sagemaker-registry";
import { StepFunctionsExecutions } from "../sfn-executions";
import { type LambdaEnvironment, LAMBDA_ENVIRONMENT, readLambdaEnvironment } from "./environment";

let cached: StageDeps | undefined;

/** The container's stage dependencies, built once from the environment. */
export function awsStageDeps(): StageDeps {
  cached ??= buildAwsStageDeps(readLambdaEnvironment());
  return cached;
}

/** Every method of a port, so a port built on first use cannot leave one out. */
type Methods<Port> = { readonly [Method in keyof Port]-?: true };

const SERVING: Methods<Serving> = {
  deploy: true,
  status: true,
  endpoint: true,
  scrapeMetrics: true,
  remove: true,
  removeRollout: true,
  scale: true,
  replicas: true,
  autoscale: true,
  checkCapacity: true,
};
const GATEWAY: Methods<Gateway> = {
  register: true,
  setWeights: true,
  promote: true,
  removeBackend: true,
  describe: true,
  mirror: true,
  shadowSamples: true,
};
const REGISTRY: Methods<Registry> = {
  register: true,
  setStatus: true,
  getStatus: true,
  describeVersion: true,
};
const ALARMS: Methods<Alarms> = { ensure: true, states: true, metricHistory: true, remove: true };
const HOOKS: Methods<Hooks> = { callFunction: true, signingKey: true };
const METRICS: Methods<Metrics> = {
  publish: true,
  publishTraffic: true,
  queryPrometheus: true,
  startProber: true,
  stopProber: true,
};

export function buildAwsStageDeps(env: LambdaEnvironment): StageDeps {
  const { config } = env;
  const objects = new S3ObjectStore({ bucket: env.bucket });
  const clock: Clock = { now: () => new Date(), sleep: (ms) => delay(ms) };
  // One connection for Serving and Gateway: the cluster is described once per container.
  let cluster: ClusterConnection | undefined;
  const connection = () =>
    (cluster ??= eksClusterConnection({ clusterName: config.clusterName, region: functionRegion() }));
  return {
    config,
    objects,
    store: new DynamoRolloutStore({ tableName: env.table }),
    events: new EventBridgeEvents({ busName: env.eventBus }),
    clock,
    executions: env.stateMachineArn
      ? new StepFunctionsExecutions({ stateMachineArn: env.stateMachineArn })
      : executionsOnlyInStart,
    serving: builtOnFirstUse(
      () => new EksServing({ config, connection: connection(), region: functionRegion(), clock, objects }),
      SERVING,
    ),
    gateway: builtOnFirstUse(() => new HttpRouteGateway({ config, connection: connection() }), GATEWAY),
    registry: builtOnFirstUse(() => new SageMakerRegistry(), REGISTRY),
    alarms: builtOnFirstUse(() => new CloudWatchAlarms({ clock }), ALARMS),
    metrics: builtOnFirstUse(() => proberMetrics(env, clock, connection), METRICS),
    hooks: builtOnFirstUse(
      () =>
        new LambdaHooks({
          functions: config.hooks.functions,
          region: functionRegion(),
          ...(env.hookSigningSecretArn ? { signingSecretArn: env.hookSigningSecretArn } : {}),
        }),
      HOOKS,
    ),
  };
}

/** The function's own region, where its cluster is. */
function functionRegion(): string {
  const region = process.env["AWS_REGION"];
  if (!region)
    throw new Error("AWS_REGION is not set: the Lambda runtime sets it; set it to run a stage elsewhere.");
  return region;
}

/**
 * Metrics as EMF lines (any function), the prober's schedules where the environment allows — starting one
 * needs the prober's ARN and the scheduler role (CanaryStep, Promote), stopping one the schedule group — and
 * queries to the stack's Prometheus when its config names one.
 */
function proberMetrics(env: LambdaEnvironment, clock: Clock, connection: () => ClusterConnection): Metrics {
  const { scheduleGroup, prober } = env;
  const metrics = new CloudWatchMetrics({
    namespace: env.config.canaryMetrics.namespace,
    scheduleGroup: scheduleGroup ?? "",
    proberFunctionArn: prober?.functionArn ?? "",
    schedulerRoleArn: prober?.schedulerRoleArn ?? "",
    clock,
  });
  let prometheus: PrometheusQueries | undefined;
  const notGiven = (what: string, variables: readonly string[]) =>
    Promise.reject(
      new Error(
        `This function may not ${what}: the ModelPipeline construct gives ${variables.join(" and ")} only to the functions that do (lib/infra/function-access.ts).`,
      ),
    );
  return {
    publish: (observations) => metrics.publish(observations),
    publishTraffic: (periods) => metrics.publishTraffic(periods),
    queryPrometheus: (query, at) => {
      const endpoint = env.config.canaryMetrics.prometheus?.endpoint;
      if (!endpoint) {
        return Promise.reject(
          new Error(
            "The stack names no Prometheus (canaryMetrics.prometheus): real traffic is scraped from the pods.",
          ),
        );
      }
      prometheus ??= new PrometheusQueries({ endpoint, region: functionRegion(), connection });
      return prometheus.query(query, at);
    },
    startProber: (target) =>
      prober && scheduleGroup
        ? metrics.startProber(target)
        : notGiven("start a prober", [
            LAMBDA_ENVIRONMENT.proberFunctionArn,
            LAMBDA_ENVIRONMENT.schedulerRoleArn,
            LAMBDA_ENVIRONMENT.scheduleGroup,
          ]),
    stopProber: (model, version) =>
      scheduleGroup
        ? metrics.stopProber(model, version)
        : notGiven("stop a prober", [LAMBDA_ENVIRONMENT.scheduleGroup]),
  };
}

/** A port whose adapter is built when one of its methods is first called. */
function builtOnFirstUse<Port extends object>(build: () => Port, methods: Methods<Port>): Port {
  let built: Port | undefined;
  const port: Record<string, unknown> = {};
  for (const name of Object.keys(methods)) {
    port[name] = (...args: unknown[]) => {
      built ??= build();
      const method = (built as Record<string, unknown>)[name] as (...params: unknown[]) => unknown;
      return method.apply(built, args);
    };
  }
  return port as Port;
}

const onlyInStart =
  "Only the Start, Command and AlarmRollback functions reach executions: no other function is given the state machine's ARN or a right on it.";

const executionsOnlyInStart: Executions = {
  idFor: () => {
    throw new Error(onlyInStart);
  },
  start: () => Promise.reject(new Error(onlyInStart)),
  sendTaskSuccess: () => Promise.reject(new Error(onlyInStart)),
  sendTaskFailure: () => Promise.reject(new Error(onlyInStart)),
};
