// The stage dependencies (lib/pipeline/deps.ts) of a Lambda function on AWS: the adapters of lib/aws over
// the bucket, table, bus and state machine the environment names, and the stack config's EKS cluster.
// Built on the first invocation and kept for the life of the container, so SDK clients, connections and
// the cluster's description are reused across invocations.

import type { StageDeps } from "../../pipeline/deps";
import type { Clock, Executions, ObjectStore, Serving } from "../../ports";
import { DynamoRolloutStore } from "../dynamodb-rollout-store";
import { eksClusterConnection } from "../eks/cluster";
import { EksServing } from "../eks/eks-serving";
import { EventBridgeEvents } from "../eventbridge-events";
import { S3ObjectStore } from "../s3-object-store";
import { StepFunctionsExecutions } from "../sfn-executions";
import { type LambdaEnvironment, readLambdaEnvironment } from "./environment";
import { unbuiltAwsPorts } from "./unbuilt-ports";

let cached: StageDeps | undefined;

/** The container's stage dependencies, built once from the environment. */
export function awsStageDeps(): StageDeps {
  cached ??= buildAwsStageDeps(readLambdaEnvironment());
  return cached;
}

function buildAwsStageDeps(env: LambdaEnvironment): StageDeps {
  const objects = new S3ObjectStore({ bucket: env.bucket });
  const clock: Clock = { now: () => new Date() };
  return {
    config: env.config,
    objects,
    store: new DynamoRolloutStore({ tableName: env.table }),
    events: new EventBridgeEvents({ busName: env.eventBus }),
    clock,
    executions: env.stateMachineArn
      ? new StepFunctionsExecutions({ stateMachineArn: env.stateMachineArn })
      : executionsOnlyInStart,
    serving: servingOnFirstUse(() => eksServing(env, objects, clock)),
    ...unbuiltAwsPorts,
  };
}

/** Candidates on the stack's EKS cluster, in the function's own region. */
function eksServing(env: LambdaEnvironment, objects: ObjectStore, clock: Clock): EksServing {
  const region = process.env["AWS_REGION"];
  if (!region)
    throw new Error("AWS_REGION is not set: the Lambda runtime sets it; set it to run a stage elsewhere.");
  const connection = eksClusterConnection({ clusterName: env.config.clusterName, region });
  return new EksServing({ config: env.config, connection, region, clock, objects });
}

/** Functions that never reach the cluster never build its client. */
function servingOnFirstUse(build: () => Serving): Serving {
  let serving: Serving | undefined;
  const get = () => (serving ??= build());
  return {
    deploy: (spec) => get().deploy(spec),
    status: (handle) => get().status(handle),
    endpoint: (handle, purpose) => get().endpoint(handle, purpose),
    remove: (handle) => get().remove(handle),
    removeRollout: (model, rolloutId) => get().removeRollout(model, rolloutId),
  };
}

const onlyInStart =
  "Only the Start function starts executions: no other function is given the state machine's ARN or the right to start it.";

const executionsOnlyInStart: Executions = {
  idFor: () => {
    throw new Error(onlyInStart);
  },
  start: () => Promise.reject(new Error(onlyInStart)),
};
