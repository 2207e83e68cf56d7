// `modelship forget <model> [--version V] --local`: removes what the local home keeps of a model — or of one
// version of it — that neither serves nor is being rolled out: its record (or the version's transitions), its
// kept gate results, its model registry entries, and its folders in the local bucket (weights and reports).
// Failed experiments then leave `status`, and the version may be uploaded again. It works on the files under
// their locks, so it is safe beside a running control plane, which owns nothing of a model that does not serve.

import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ModelRecord } from "../core/rollout/rollout";
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN } from "../core/manifest/manifest-schema";
import { whyVersionServes } from "../core/rollout/version-served";
import { JsonFileRolloutStore } from "../local/json-rollout-store";
import { LocalRegistry } from "../local/local-registry";
import { localPaths } from "../local/runtime";
import { HomeInvalid, StateFileInvalid } from "../local/state-file-invalid";
import { BadInput, runCliCommand, UsageError } from "./cli-command";
import { parseCommandLine } from "./command-line";

const USAGE = `Usage: modelship forget <model> [--version V] --local [--home .modelship]

Removes what the local home keeps of a model, or of one version of it: its rollout record (or the version's
history), its kept gate results, its model registry entries, and its folders in the local bucket (weights
under models/, reports under reports/). Refused while the model — or the version — serves or is being
rolled out: roll it back, or release a new version, first. A version forgotten may be uploaded again.

  --version V   forget only this version (default: the whole model)
  --local       the local home (the only place forget works: on AWS the records are the stack's)
  --home DIR    the local runtime's folder (default .modelship)

To start a home over, stop its control plane and remove the folder: rm -rf .modelship

Exit status: 0 forgotten, 1 refused or bad input, 2 usage error.`;

export function run(argv: string[]): Promise<number> {
  return runCliCommand({ name: "forget", usage: USAGE, refusals: [HomeInvalid, StateFileInvalid] }, () =>
    forget(argv),
  );
}

async function forget(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      version: { type: "string" },
      local: { type: "boolean" },
      home: { type: "string", default: ".modelship" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("give exactly one model name.");
  if (!values.local) {
    throw new UsageError(
      "add --local: forget works on a local home; on AWS the rollout table and the model registry are the stack's.",
    );
  }
  const model = positionals[0] as string;
  const { version } = values;
  if (!MODEL_NAME_PATTERN.test(model)) throw new UsageError(`'${model}' is not a model name.`);
  if (version !== undefined && !MODEL_VERSION_PATTERN.test(version)) {
    throw new UsageError(`'${version}' is not a version.`);
  }

  const home = resolve(values.home);
  const paths = localPaths(home);
  const store = new JsonFileRolloutStore(paths.rollouts);
  const records = await store.list();
  const folders = version === undefined ? [model] : [model, version];
  const removed = [join(paths.bucket, "models", ...folders), join(paths.bucket, "reports", ...folders)];
  const record = records.find((r) => r.model === model);
  const inRecord =
    version === undefined ? record !== undefined : !!record?.history.some((t) => t.version === version);
  if (!inRecord && !existsSync(removed[0] as string)) {
    const models = records.map((r) => r.model);
    const versions = [...new Set(record?.history.map((t) => t.version) ?? [])];
    throw new BadInput(
      `The home ${home} knows no ${version === undefined ? `model ${model}` : `${model} ${version}`}.`,
      version !== undefined && versions.length > 0
        ? `The versions of ${model} it knows: ${versions.join(", ")}.`
        : models.length > 0
          ? `The models it knows: ${models.join(", ")}.`
          : "It has no models yet.",
    );
  }
  const what = version === undefined ? model : `${model} ${version}`;
  const outcome = await store.forget(model, version, (record) => refusal(record, what, version));
  if ("refused" in outcome) throw new BadInput(`${what} is not forgotten: ${outcome.refused}.`);
  const entries = await new LocalRegistry({ home }).forget(model, version);
  for (const folder of removed) await rm(folder, { recursive: true, force: true });

  console.log(
    [
      `✓ Forgot ${what}:`,
      `  ${outcome.recordRemoved ? "its rollout record" : `${outcome.transitions} transition(s) of its history`}, ${entries} registry entr${entries === 1 ? "y" : "ies"},`,
      ...removed.map((folder) => `  ${folder}`),
    ].join("\n"),
  );
  return 0;
}

/** Why the model (or the version) may not be forgotten now, or undefined. */
function refusal(
  record: ModelRecord | undefined,
  what: string,
  version: string | undefined,
): string | undefined {
  const lock = record?.lock;
  if (lock && (version === undefined || lock.version === version)) {
    return `rollout ${lock.rolloutId} of ${lock.version} is running (stop it with \`modelship abort ${record?.model} --local\`)`;
  }
  if (version !== undefined) return whyVersionServes(record, version);
  const serving = record?.stable ?? record?.previousStable;
  return serving
    ? `${serving.version} serves it (${what} is forgotten once nothing of it serves)`
    : undefined;
}
