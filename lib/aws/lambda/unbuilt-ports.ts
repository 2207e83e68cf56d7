// The ports that have no AWS adapter yet (Serving on EKS, the gateway route, the model registry, CloudWatch
// alarms and the prober). Each method fails loudly with `NotImplementedYet`, naming what is missing, so a
// stage that reaches one stops with a reason a user can read in the Step Functions console.

import { NotImplementedYet } from "../../core/errors";
import type { StageDeps } from "../../pipeline/deps";

function missing(adapter: string, method: string): Promise<never> {
  return Promise.reject(new NotImplementedYet(adapter, `${method} has no AWS implementation yet`));
}

const SERVING = "Serving on EKS";
const GATEWAY = "The Gateway API route adapter";
const REGISTRY = "The SageMaker Model Registry adapter";
const CLOUDWATCH = "The CloudWatch adapter";

export const unbuiltAwsPorts: Pick<StageDeps, "serving" | "gateway" | "registry" | "alarms" | "metrics"> = {
  serving: {
    deploy: () => missing(SERVING, "Serving.deploy"),
    status: () => missing(SERVING, "Serving.status"),
    endpoint: () => missing(SERVING, "Serving.endpoint"),
    remove: () => missing(SERVING, "Serving.remove"),
  },
  gateway: {
    register: () => missing(GATEWAY, "Gateway.register"),
    setWeights: () => missing(GATEWAY, "Gateway.setWeights"),
    promote: () => missing(GATEWAY, "Gateway.promote"),
    removeBackend: () => missing(GATEWAY, "Gateway.removeBackend"),
    describe: () => missing(GATEWAY, "Gateway.describe"),
  },
  registry: {
    register: () => missing(REGISTRY, "Registry.register"),
    setStatus: () => missing(REGISTRY, "Registry.setStatus"),
    getStatus: () => missing(REGISTRY, "Registry.getStatus"),
  },
  alarms: {
    ensure: () => missing(CLOUDWATCH, "Alarms.ensure"),
    states: () => missing(CLOUDWATCH, "Alarms.states"),
    remove: () => missing(CLOUDWATCH, "Alarms.remove"),
  },
  metrics: {
    publish: () => missing(CLOUDWATCH, "Metrics.publish"),
    startProber: () => missing(CLOUDWATCH, "Metrics.startProber"),
    stopProber: () => missing(CLOUDWATCH, "Metrics.stopProber"),
  },
};
