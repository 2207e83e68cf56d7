// What the CDK app checks and learns from statemachines/pipeline.asl.json before it deploys it: every
// `${...}` placeholder must be one the app substitutes, every Task must have a TimeoutSeconds, and each
// function's shortest Task timeout bounds its Lambda timeout (the construct keeps the Lambda timeout a margin
// below it, so a function that runs out of time fails as a Lambda timeout, not as the Task's States.Timeout).
// The file itself is deployed as it is.

import { readFileSync } from "node:fs";
import { packagePath } from "../package-files";

export const PIPELINE_DEFINITION_FILE = packagePath("statemachines/pipeline.asl.json");

interface PipelineDefinitionFacts {
  /** Substitution key (`ValidateFunctionArn`) → the shortest TimeoutSeconds of the Tasks that use it. */
  readonly taskTimeoutSeconds: ReadonlyMap<string, number>;
}

/** Reads the definition; throws, naming them all, on placeholders outside `substitutions` and untimed Tasks. */
export function readPipelineDefinition(
  substitutions: readonly string[],
  file: string = PIPELINE_DEFINITION_FILE,
): PipelineDefinitionFacts {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`Cannot read the state machine definition ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const problems: string[] = [];
  const placeholders = new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1] ?? ""));
  const unknown = [...placeholders].filter((p) => !substitutions.includes(p)).sort();
  if (unknown.length > 0) {
    problems.push(
      `it uses substitutions the app does not provide: ${unknown.map((p) => "${" + p + "}").join(", ")}. ` +
        `The app provides ${substitutions.map((p) => "${" + p + "}").join(", ")}; ` +
        "fix the name, or add the function to PIPELINE_FUNCTIONS (lib/core/state-machine/pipeline-functions.ts).",
    );
  }
  const taskTimeoutSeconds = new Map<string, number>();
  const untimed: string[] = [];
  for (const [stateName, task] of tasksOf(definition)) {
    // A `.waitForTaskToken` Task waits for a person, for as long as its TimeoutSecondsPath says: it bounds
    // the wait, not its function, whose Lambda timeout stays the default.
    if (task.Resource === WAIT_FOR_TASK_TOKEN) {
      if (typeof task.TimeoutSecondsPath !== "string") untimed.push(stateName);
      continue;
    }
    const key = /^\$\{([^}]+)\}$/.exec(typeof task.Resource === "string" ? task.Resource : "")?.[1];
    if (!key) continue;
    if (typeof task.TimeoutSeconds !== "number") {
      untimed.push(stateName);
      continue;
    }
    taskTimeoutSeconds.set(key, Math.min(task.TimeoutSeconds, taskTimeoutSeconds.get(key) ?? Infinity));
  }
  if (untimed.length > 0) {
    problems.push(
      `the Task states ${untimed.join(", ")} have no TimeoutSeconds. ` +
        "Give every Task an explicit TimeoutSeconds: it bounds the stage, and its function's Lambda timeout is set just below it.",
    );
  }
  if (problems.length > 0) throw new Error([`${file}:`, ...problems.map((p) => `  ${p}`)].join("\n"));
  return { taskTimeoutSeconds };
}

interface TaskState {
  readonly Resource?: unknown;
  readonly TimeoutSeconds?: unknown;
  readonly TimeoutSecondsPath?: unknown;
}

const WAIT_FOR_TASK_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/** Every Task state, at any depth (inside Map processors and Parallel branches too), with its name. */
function* tasksOf(node: unknown, name = ""): Generator<[string, TaskState]> {
  if (Array.isArray(node)) {
    for (const item of node) yield* tasksOf(item);
    return;
  }
  if (!node || typeof node !== "object") return;
  const record = node as Record<string, unknown>;
  if (record.Type === "Task") yield [name, record];
  for (const [key, value] of Object.entries(record)) {
    if (key === "States" && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [stateName, state] of Object.entries(value)) yield* tasksOf(state, stateName);
    } else {
      yield* tasksOf(value);
    }
  }
}
