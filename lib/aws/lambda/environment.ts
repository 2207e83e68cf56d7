// The environment every modelship Lambda function runs with: the CDK construct (lib/infra) writes these
// variables and the handlers read them, from this one list, so the two sides cannot drift apart.

import type { StackConfig } from "../../core/config/config";
import { formatFinding } from "../../core/findings";
import { resolveStackConfig } from "../../core/resolution/stack-config";

export const LAMBDA_ENVIRONMENT = {
  bucket: "MODELSHIP_BUCKET",
  table: "MODELSHIP_TABLE",
  eventBus: "MODELSHIP_EVENT_BUS",
  config: "MODELSHIP_CONFIG",
  /** Only the Start function has it: the others never start executions. */
  stateMachineArn: "MODELSHIP_STATE_MACHINE_ARN",
  /** Functions that start or stop the canary's prober: the EventBridge Scheduler group of its schedules. */
  scheduleGroup: "MODELSHIP_SCHEDULE_GROUP",
  /** Only functions that start the prober: the function its schedule invokes … */
  proberFunctionArn: "MODELSHIP_PROBER_FUNCTION_ARN",
  /** … and the role EventBridge Scheduler invokes it with. */
  schedulerRoleArn: "MODELSHIP_SCHEDULER_ROLE_ARN",
  /** Only the RunHooks function, when the stack has one: the Secrets Manager secret that signs URL hooks. */
  hookSigningSecretArn: "MODELSHIP_HOOK_SIGNING_SECRET_ARN",
} as const;

/** What starting a prober schedule takes; only the functions that start one are given it. */
export interface ProberScheduling {
  readonly functionArn: string;
  readonly schedulerRoleArn: string;
}

export interface LambdaEnvironment {
  readonly bucket: string;
  readonly table: string;
  readonly eventBus: string;
  readonly config: StackConfig;
  readonly stateMachineArn?: string;
  readonly scheduleGroup?: string;
  readonly prober?: ProberScheduling;
  readonly hookSigningSecretArn?: string;
}

interface Shape {
  readonly pattern: RegExp;
  /** What a value should look like, for the message. */
  readonly expected: string;
}

const LAMBDA_FUNCTION_ARN: Shape = {
  pattern: /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/,
  expected: "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
};
const IAM_ROLE_ARN: Shape = {
  pattern: /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
  expected: "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
};
const SECRET_ARN: Shape = {
  pattern: /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}$/,
  expected: "a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
};
const SCHEDULE_GROUP_NAME: Shape = {
  pattern: /^[0-9a-zA-Z._-]{1,64}$/,
  expected: "a schedule group name (letters, digits, '.', '_' and '-', at most 64)",
};

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
  const scheduleGroup = optional(env, LAMBDA_ENVIRONMENT.scheduleGroup, SCHEDULE_GROUP_NAME, problems);
  const prober = readProberScheduling(env, problems);
  const hookSigningSecretArn = optional(env, LAMBDA_ENVIRONMENT.hookSigningSecretArn, SECRET_ARN, problems);
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
  return {
    bucket,
    table,
    eventBus,
    config,
    ...(stateMachineArn && { stateMachineArn }),
    ...(scheduleGroup && { scheduleGroup }),
    ...(prober && { prober }),
    ...(hookSigningSecretArn && { hookSigningSecretArn }),
  };
}

/** A variable that may be absent, but when set must have its shape. */
function optional(
  env: NodeJS.ProcessEnv,
  name: string,
  shape: Shape,
  problems: string[],
): string | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (!shape.pattern.test(value))
    problems.push(`${name} is ${JSON.stringify(value)}; expected ${shape.expected}.`);
  return value;
}

/** The prober's function and the scheduler's role come together, or not at all. */
function readProberScheduling(env: NodeJS.ProcessEnv, problems: string[]): ProberScheduling | undefined {
  const { proberFunctionArn, schedulerRoleArn, scheduleGroup } = LAMBDA_ENVIRONMENT;
  const functionArn = optional(env, proberFunctionArn, LAMBDA_FUNCTION_ARN, problems);
  const roleArn = optional(env, schedulerRoleArn, IAM_ROLE_ARN, problems);
  if (!functionArn && !roleArn) return undefined;
  const missing = [
    functionArn ? undefined : proberFunctionArn,
    roleArn ? undefined : schedulerRoleArn,
    env[scheduleGroup] ? undefined : scheduleGroup,
  ].filter((name) => name !== undefined);
  for (const name of missing) {
    problems.push(`${name} is not set, but a function that starts the prober needs it with the others.`);
  }
  return functionArn && roleArn ? { functionArn, schedulerRoleArn: roleArn } : undefined;
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
