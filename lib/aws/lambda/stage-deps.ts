// The stage dependencies (lib/pipeline/deps.ts) of a Lambda function on AWS: the adapters of lib/aws over
// the bucket, table, bus and state machine the environment names. Built on the first invocation and kept
// for the life of the container, so SDK clients and their connections are reused across invocations.

import type { StageDeps } from "../../pipeline/deps";
import type { Executions } from "../../ports";
import { DynamoRolloutStore } from "../dynamodb-rollout-store";
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
  return {
    config: env.config,
    objects: new S3ObjectStore({ bucket: env.bucket }),
    store: new DynamoRolloutStore({ tableName: env.table }),
    events: new EventBridgeEvents({ busName: env.eventBus }),
    clock: { now: () => new Date() },
    executions: env.stateMachineArn
      ? new StepFunctionsExecutions({ stateMachineArn: env.stateMachineArn })
      : executionsOnlyInStart,
    ...unbuiltAwsPorts,
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
