// The sample stack `npx cdk deploy` deploys: one ModelPipeline configured from the `modelship` key of the
// CDK context (cdk.json, or `-c modelship='{"clusterName":"gpu"}'`). No lookups and no environment, so
// `npx cdk synth` works offline, with no AWS account.

import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { formatFinding } from "../core/findings";
import { resolveStackConfig } from "../core/stack-config";
import { ModelPipeline } from "./model-pipeline";

const CONFIG_CONTEXT_KEY = "modelship";

export class ModelshipStack extends Stack {
  readonly pipeline: ModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const source = `the CDK context "${CONFIG_CONTEXT_KEY}" (cdk.json)`;
    const { config, findings } = resolveStackConfig(contextValue(this, source), source);
    if (!config) {
      throw new Error(
        [`The stack config in ${source} is invalid:`, ...findings.map(formatFinding)].join("\n"),
      );
    }
    this.pipeline = new ModelPipeline(this, "ModelPipeline", config);
  }
}

/** The context value; a `-c modelship=…` on the command line arrives as a JSON string. */
function contextValue(scope: Construct, source: string): unknown {
  const value: unknown = scope.node.tryGetContext(CONFIG_CONTEXT_KEY);
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`${source} is a string that is not JSON: ${(error as Error).message}`, { cause: error });
  }
}
