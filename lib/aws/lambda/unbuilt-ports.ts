// The ports that have no AWS adapter yet (the gateway route, the model registry, CloudWatch alarms and the
// prober): a stage that reaches one stops with a reason a user can read in the console.

import { unbuiltPorts } from "../../pipeline/unbuilt-ports";

export const unbuiltAwsPorts = unbuiltPorts("AWS", {
  gateway: "The Gateway API route adapter",
  registry: "The SageMaker Model Registry adapter",
  alarms: "The CloudWatch adapter",
  metrics: "The CloudWatch adapter",
});
