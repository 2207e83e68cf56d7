// The environment every modelship Lambda function runs with: the CDK construct (lib/infra) writes these
// variables and the handlers read them, from this one list, so the two sides cannot drift apart.

import type { StackConfig } from "../../core/config";
import { formatFinding } from "../../core/findings";
import { resolveStackConfig } from "../../core/stack-config";

export const LAMBDA_ENVIRONMENT = {
  bucket: "MODELSHIP_BUCKET",
  table: "MODELSHIP_TABLE",
  eventBus: "MODELSHIP_EVENT_BUS",
  config: "MODELSHIP_CONFIG",
  /** Only the Start function has it: the others never start executions. */
  stateMachineArn: "MODELSHIP_STATE_MACHINE_ARN",
} as const;

export interface LambdaEnvironment {
  readonly bucket: string;
  readonly table: string;
  readonly eventBus: string;
  readonly config: StackConfig;
  readonly stateMachineArn?: string;
}

/** Reads and checks the function's environment; throws one error naming every missing or bad variable. */
export function readLambdaEnvironment(env: NodeJS.ProcessEnv = process.env): LambdaEnvironment {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (!value) problems.push(`${name} is not set.`);
    return value ?? "";
  };
  const bucket = required(LAMBDA_ENVIRONMENT.bucket);
  const table = required(LAMBDA_ENVIRONMENT.table);
  const eventBus = required(LAMBDA_ENVIRONMENT.eventBus);
  const config = parseConfig(required(LAMBDA_ENVIRONMENT.config), problems);
  if (!config || problems.length > 0) {
    throw new Error(
      [
        "This function's environment is not what the ModelPipeline construct sets:",
        ...problems.map((p) => `  ${p}`),
        "Hint: deploy the function through the ModelPipeline construct (lib/infra), which sets every variable.",
      ].join("\n"),
    );
  }
  const stateMachineArn = env[LAMBDA_ENVIRONMENT.stateMachineArn];
  return { bucket, table, eventBus, config, ...(stateMachineArn && { stateMachineArn }) };
}

function parseConfig(text: string, problems: string[]): StackConfig | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push(`${LAMBDA_ENVIRONMENT.config} is not JSON: ${(error as Error).message}`);
    return undefined;
  }
  const { config, findings } = resolveStackConfig(parsed);
  for (const finding of findings) {
    if (finding.severity === "error")
      problems.push(`${LAMBDA_ENVIRONMENT.config}: ${formatFinding(finding)}`);
  }
  return config;
}
