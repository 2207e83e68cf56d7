// `modelship rollback|promote|abort|approve|reject <model>`: sends a command to a model's running rollout on AWS, as an event
// on the modelship bus that the Command function acts on within seconds (lib/pipeline/commands.ts). The CLI
// only delivers the command: what was done, or why nothing was, shows in `modelship status` and the events.

import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { hostname, userInfo } from "node:os";
import { DynamoRolloutStore } from "../aws/dynamodb-rollout-store";
import { COMMAND_SOURCES } from "../core/events/events";
import { MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import { suggestNearest } from "../core/suggest";
import type { CommandName, CommandOutcome } from "../pipeline/commands";
import { resolve } from "node:path";
import { ControlPlaneClient, ControlPlaneRefused } from "../local/control-plane-client";
import { NoControlPlane } from "../local/control-plane-file";
import { CLI_ENVIRONMENT, describeAwsFailure } from "./aws-cli";
import { parseCommandLine } from "./command-line";
import { UsageError } from "./cli-command";

/** The longest reason and requester the Command function accepts. */
const MAX_REASON_CHARS = 1000;
const MAX_REQUESTER_CHARS = 200;

interface CommandSpec {
  readonly name: "rollback" | "promote" | "abort" | "approve" | "reject";
  readonly detailType: CommandName;
  /** What the command does, for its help. */
  readonly does: string;
}

export const ROLLOUT_COMMANDS = {
  rollback: {
    name: "rollback",
    detailType: "Rollback Requested",
    does: "rolls the model's running rollout back (100% to the stable version, the candidate removed)",
  },
  promote: {
    name: "promote",
    detailType: "Promote Requested",
    does: "skips the running canary's remaining steps (the candidate is promoted after the current bake)",
  },
  abort: {
    name: "abort",
    detailType: "Abort Requested",
    does: "stops the model's running rollout wherever it is, as a rollback does",
  },
  approve: {
    name: "approve",
    detailType: "Approve Requested",
    does: "lets a rollout waiting for approval (rollout.approval: manual) go on, recording who approved",
  },
  reject: {
    name: "reject",
    detailType: "Reject Requested",
    does: "rolls back a rollout waiting for approval (rollout.approval: manual), recording who rejected it",
  },
} as const satisfies Record<string, CommandSpec>;

function usage(spec: CommandSpec): string {
  return `Usage: modelship ${spec.name} <model> [--reason "…"] [--bus NAME] [--table NAME]
       modelship ${spec.name} <model> [--reason "…"] --local [--home .modelship]

Sends "${spec.detailType}" to modelship, which ${spec.does}.
On AWS the command travels as an event on the modelship bus; the Command function acts on it within
seconds. With --local the running local control plane (\`modelship local\`) acts on it at once and the
answer says what was done. Follow it with \`modelship status <model>\`.

Options:
  --reason TEXT   why, recorded in the model's history and the events (at most ${MAX_REASON_CHARS} characters)
  --bus NAME      the pipeline's event bus: the stack's EventBusName output (default: $${CLI_ENVIRONMENT.bus})
  --table NAME    the pipeline's rollout table: the stack's RolloutTableName output (default:
                  $${CLI_ENVIRONMENT.table}); the command is sent only for a model it knows
  --local         send it to the local control plane instead (\`modelship local\`)
  --home DIR      with --local: the local runtime's folder (default .modelship)
  -h, --help      show this help

AWS credentials and region come from the SDK's standard configuration (AWS_PROFILE, AWS_REGION, …).

Exit codes: 0 sent (--local: done, or nothing to do), 1 bad input, not delivered or refused, 2 usage error.`;
}

export class BadInput extends Error {}

export async function sendRolloutCommand(spec: CommandSpec, argv: string[]): Promise<number> {
  try {
    return await send(spec, argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`modelship ${spec.name}: ${(error as Error).message}\n\n${usage(spec)}`);
      return 2;
    }
    if (
      error instanceof BadInput ||
      error instanceof NoControlPlane ||
      error instanceof ControlPlaneRefused
    ) {
      console.error(`✖ ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function send(spec: CommandSpec, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      reason: { type: "string" },
      bus: { type: "string" },
      table: { type: "string" },
      local: { type: "boolean", default: false },
      home: { type: "string", default: ".modelship" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage(spec));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? "name the model." : `give one model, found ${positionals.length}.`,
    );
  }
  const model = positionals[0] ?? "";
  const problems: string[] = [];
  if (!MODEL_NAME_PATTERN.test(model)) {
    problems.push(
      `'${model}' is not a model name: lowercase letters, digits and '-', 1–63 characters, starting with a letter or digit (as in models/<name>/<version>/).`,
    );
  }
  const reason = values.reason?.trim();
  if (reason !== undefined && reason.length === 0)
    problems.push("--reason is empty: say why, or leave it out.");
  if (reason && reason.length > MAX_REASON_CHARS) {
    problems.push(
      `--reason has ${reason.length} characters; the Command function takes at most ${MAX_REASON_CHARS}.`,
    );
  }
  if (problems.length > 0) throw new BadInput(problems.join("\n  "));
  if (values.local) return sendLocal(spec, values.home, { model, ...(reason && { reason }) });

  const bus = values.bus ?? process.env[CLI_ENVIRONMENT.bus];
  if (!bus) {
    throw new BadInput(
      `name the pipeline's event bus: --bus NAME or ${CLI_ENVIRONMENT.bus}, the stack's EventBusName output ` +
        '(aws cloudformation describe-stacks --stack-name Modelship --query "Stacks[0].Outputs"); or --local for the local runtime.',
    );
  }
  const table = values.table ?? process.env[CLI_ENVIRONMENT.table];
  if (!table) {
    throw new BadInput(
      `name the pipeline's rollout table: --table NAME or ${CLI_ENVIRONMENT.table}, the stack's RolloutTableName output: ` +
        `the command is sent only for a model the table knows, so a mistyped name is not taken for "nothing to do".`,
    );
  }
  await assertKnownModel(model, table);
  const eventId = await putCommandEvent(bus, spec.detailType, {
    model,
    ...(reason && { reason }),
    requestedBy: requester(),
  });
  console.log(
    [
      `✓ "${spec.detailType}" for ${model} sent to bus ${bus}${eventId ? ` (event ${eventId})` : ""}.`,
      `  The Command function acts on it within seconds; see what it did with \`modelship status ${model}\`.`,
    ].join("\n"),
  );
  return 0;
}

/**
 * Puts one command on the pipeline's bus as the CLI does (source COMMAND_SOURCES.cli); returns the event's id.
 * BadInput says why it was not sent or EventBridge refused it.
 */
export async function putCommandEvent(
  bus: string,
  detailType: CommandName,
  detail: { readonly model: string; readonly reason?: string; readonly requestedBy: string },
): Promise<string | undefined> {
  const client = new EventBridgeClient({});
  let response;
  try {
    response = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: bus,
            Source: COMMAND_SOURCES.cli,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
  } catch (error) {
    throw new BadInput(
      `"${detailType}" for ${detail.model} was not sent to bus ${bus}: ${describeAwsFailure(error)}`,
    );
  }
  const failed = response.FailedEntryCount ? (response.Entries?.find((e) => e.ErrorCode) ?? {}) : undefined;
  if (failed) {
    throw new BadInput(
      `EventBridge refused "${detailType}" for ${detail.model} on bus ${bus}: ${failed.ErrorCode ?? "unknown error"} (${failed.ErrorMessage ?? "no message"}).`,
    );
  }
  return response.Entries?.[0]?.EventId;
}

async function sendLocal(
  spec: CommandSpec,
  home: string,
  detail: { readonly model: string; readonly reason?: string },
): Promise<number> {
  const controlPlane = await ControlPlaneClient.connect(resolve(home));
  // Who asks is who the control plane authenticates: the user its secret belongs to.
  const outcome = await controlPlane.call<CommandOutcome>("POST", "commands", {
    command: spec.detailType,
    ...detail,
  });
  const done = outcome.status === "done" || outcome.status === "nothing to do";
  console.log(`${outcome.status === "done" ? "✓" : done ? "·" : "✖"} ${outcome.message}`);
  return done ? 0 : 1;
}

/** Refuses a model the rollout table has no record of, naming the models it has (nearest first when one is close). */
export async function assertKnownModel(model: string, table: string): Promise<void> {
  const store = new DynamoRolloutStore({ tableName: table });
  try {
    if (await store.get(model)) return;
    const known = (await store.list()).map((r) => r.model);
    const nearest = suggestNearest(model, known);
    throw new BadInput(
      known.length === 0
        ? `No model named ${model} has been rolled out with the table ${table}: it knows no model yet.`
        : `No model named ${model} has been rolled out with the table ${table}${nearest ? ` (did you mean ${nearest}?)` : ""}: the models it knows are ${known.join(", ")}.`,
    );
  } catch (error) {
    if (error instanceof BadInput) throw error;
    throw new BadInput(`could not read the rollout table ${table}: ${describeAwsFailure(error)}`);
  }
}

/** Who sends the command, for the model's history: the local user and host. */
export function requester(): string {
  let user = process.env["USER"] ?? process.env["USERNAME"] ?? "someone";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): the environment's name will do.
  }
  return `${user}@${hostname()} (modelship CLI)`.slice(0, MAX_REQUESTER_CHARS);
}
