// `modelship status [model] [--json]`: what serves each model on AWS right now, read from the rollout table —
// stable and candidate with their weights, the canary's step, and each of the rollout's alarms with its
// metric value next to its threshold (from CloudWatch).

import { CloudWatchAlarms } from "../aws/cloudwatch-alarms";
import { DynamoRolloutStore } from "../aws/dynamodb-rollout-store";
import { MODEL_NAME_PATTERN } from "../core/manifest/manifest-schema";
import { type ModelRecord, recordForDisplay } from "../core/rollout/rollout";
import type { Alarms } from "../ports";
import { CLI_ENVIRONMENT, describeAwsFailure, STACK_OUTPUTS_HINT } from "./aws-cli";
import { resolve } from "node:path";
import { ControlPlaneClient, ControlPlaneRefused } from "../local/control-plane-client";
import type { LocalModelStatus } from "../local/control-plane-api";
import { NoControlPlane } from "../local/control-plane-file";
import { formatModelStatus, formatReplicas, formatRoute, type ModelStatus } from "./status-report";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";
import { suggestNearest } from "../core/suggest";
import { DEFAULT_WATCH_SECONDS, watchStatus } from "./status-watch";

const USAGE = `Usage: modelship status [model] [--json | --watch [--every SECONDS]] [--table NAME]
       modelship status [model] [--json | --watch [--every SECONDS]] --local [--home .modelship]

Shows what serves each model (or the one named): the stable and candidate versions with their weights,
the canary's step, and each alarm's state with its metric value next to its threshold — on AWS, or with
--local from the running local control plane (\`modelship local\`), with the gateway's route and faults.

Options:
  --table NAME   the rollout table (default: $${CLI_ENVIRONMENT.table}; the stack's RolloutTableName output)
  --json         print {models: [{…record, alarms: [{name, state, value, threshold, …}]}]}
  --watch        keep showing it, redrawn in place, until Ctrl-C (a program polls --json instead)
  --every N      with --watch: seconds between redraws (default ${DEFAULT_WATCH_SECONDS}, at least 1)
  --local        ask the local control plane instead (\`modelship local\`)
  --home DIR     with --local: the local runtime's folder (default .modelship)
  -h, --help     show this help

AWS credentials and region come from the SDK's standard configuration (AWS_PROFILE, AWS_REGION, …).

Exit codes: 0 shown, 1 no such model, or AWS or the control plane refused, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand(
    { name: "status", usage: USAGE, refusals: [NoControlPlane, ControlPlaneRefused] },
    () => status(argv),
  );
}

/** What one look at the models shows, and the exit code it means. */
interface StatusFrame {
  readonly text: string;
  readonly code: number;
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      table: { type: "string" },
      json: { type: "boolean", default: false },
      watch: { type: "boolean", default: false },
      every: { type: "string" },
      local: { type: "boolean", default: false },
      home: { type: "string", default: ".modelship" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`give at most one model, found ${positionals.length}.`);
  const model = positionals[0];
  if (model !== undefined && !MODEL_NAME_PATTERN.test(model)) {
    throw new BadInput(
      `'${model}' is not a model name: lowercase letters, digits and '-', 1–63 characters, starting with a letter or digit.`,
    );
  }
  if (values.watch && values.json) {
    throw new UsageError(
      "--watch redraws for a person to read; a program polls --json instead. Give one of them.",
    );
  }
  if (values.every !== undefined && !values.watch) throw new UsageError("--every goes with --watch.");
  const everySeconds = values.every === undefined ? DEFAULT_WATCH_SECONDS : Number(values.every);
  if (!Number.isInteger(everySeconds) || everySeconds < 1 || everySeconds > 3600) {
    throw new UsageError(`--every takes whole seconds from 1 to 3600, found '${values.every}'.`);
  }
  let look: () => Promise<StatusFrame>;
  if (values.local) {
    const home = values.home;
    look = () => localStatus(home, model, values.json);
  } else {
    const table = values.table ?? (process.env[CLI_ENVIRONMENT.table] || undefined);
    if (!table) {
      throw new UsageError(
        `which rollout table? Give --table or set ${CLI_ENVIRONMENT.table}: the stack's RolloutTableName output (${STACK_OUTPUTS_HINT}).`,
      );
    }
    const store = new DynamoRolloutStore({ tableName: table });
    const alarms = new CloudWatchAlarms();
    look = () => awsStatus(store, alarms, table, model, values.json);
  }
  if (values.watch) {
    await watchStatus({
      look,
      describeRefusal,
      everyMs: everySeconds * 1000,
      title: `modelship status${model ? ` ${model}` : ""}${values.local ? " --local" : ""}`,
    });
    return 0;
  }
  const frame = await look();
  console.log(frame.text);
  return frame.code;
}

/** A refusal a look can meet (no control plane, AWS said no): shown in the watch, which goes on looking. */
function describeRefusal(error: unknown): string | undefined {
  if (error instanceof BadInput) return `✖ ${error.message}${error.hint ? `\n  Hint: ${error.hint}` : ""}`;
  if (error instanceof NoControlPlane || error instanceof ControlPlaneRefused) return `✖ ${error.message}`;
  return undefined;
}

async function awsStatus(
  store: DynamoRolloutStore,
  cloudWatch: Alarms,
  table: string,
  model: string | undefined,
  json: boolean,
): Promise<StatusFrame> {
  const records = await readRecords(store, model, table);
  if (records.length === 0) {
    const known = model === undefined ? [] : (await readRecords(store, undefined, table)).map((r) => r.model);
    return {
      text: json
        ? JSON.stringify({ models: [] }, null, 2)
        : model === undefined
          ? `No model has been rolled out with the table ${table} yet.`
          : `No rollout of ${model} is recorded in the table ${table}.${knownModels(model, known)}`,
      code: model === undefined ? 0 : 1,
    };
  }
  const statuses = await withAlarms(records, cloudWatch);
  return {
    text: json
      ? JSON.stringify(
          { models: statuses.map(({ record, alarms }) => ({ ...recordForDisplay(record), alarms })) },
          null,
          2,
        )
      : statuses.map((status) => formatModelStatus(status)).join("\n\n"),
    code: 0,
  };
}

async function localStatus(home: string, model: string | undefined, json: boolean): Promise<StatusFrame> {
  const controlPlane = await ControlPlaneClient.connect(resolve(home));
  const query = model === undefined ? "" : `?model=${encodeURIComponent(model)}`;
  const { models } = await controlPlane.call<{ models: LocalModelStatus[] }>("GET", `status${query}`);
  const found = models.length > 0 || model === undefined;
  if (json) return { text: JSON.stringify({ models }, null, 2), code: found ? 0 : 1 };
  if (models.length === 0) {
    const known =
      model === undefined
        ? []
        : (await controlPlane.call<{ models: LocalModelStatus[] }>("GET", "status")).models.map(
            (m) => m.model,
          );
    return {
      text:
        model === undefined
          ? `No model has been rolled out in ${resolve(home)} yet.`
          : `No rollout of ${model} is recorded in ${resolve(home)}.${knownModels(model, known)}`,
      code: found ? 0 : 1,
    };
  }
  const text = models
    .map(({ alarms, route, faults, prober, replicas, ...record }) =>
      [
        formatModelStatus({ record, alarms }, " --local"),
        ...formatRoute(route, faults),
        ...formatReplicas(replicas ?? []),
        ...(prober ? [`  prober    ${prober.version} every ${prober.everySeconds}s`] : []),
      ].join("\n"),
    )
    .join("\n\n");
  return { text, code: 0 };
}

/** ` The models it knows: a, b (did you mean a?).` — or that there are none. */
function knownModels(model: string, known: readonly string[]): string {
  if (known.length === 0) return " It knows no model yet.";
  const nearest = suggestNearest(model, known);
  return ` The models it knows: ${known.join(", ")}${nearest ? ` (did you mean ${nearest}?)` : ""}.`;
}

async function readRecords(
  store: DynamoRolloutStore,
  model: string | undefined,
  table: string,
): Promise<ModelRecord[]> {
  try {
    if (model === undefined) return (await store.list()).sort((a, b) => a.model.localeCompare(b.model));
    const record = await store.get(model);
    return record ? [record] : [];
  } catch (error) {
    throw new BadInput(`could not read the rollout table ${table}: ${describeAwsFailure(error)}`);
  }
}

async function withAlarms(records: readonly ModelRecord[], alarms: Alarms): Promise<ModelStatus[]> {
  return Promise.all(
    records.map(async (record) => {
      const names = record.alarmNames ?? [];
      if (names.length === 0) return { record, alarms: [] };
      try {
        return { record, alarms: await alarms.states(names) };
      } catch (error) {
        throw new BadInput(
          `could not read the alarms of ${record.model} from CloudWatch: ${describeAwsFailure(error)}`,
        );
      }
    }),
  );
}
