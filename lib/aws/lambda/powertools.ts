// The container's Powertools logger, metrics and tracer. One of each per container: they take the service
// name (POWERTOOLS_SERVICE_NAME) and metrics namespace (POWERTOOLS_METRICS_NAMESPACE) the construct sets.

import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer();
