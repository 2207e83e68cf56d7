// The Prepare stage: reads and resolves the manifest, takes the model's lock, records the rollout as
// running and emits "Rollout Started", then returns the resolved manifest and the plan the state machine
// follows. A retry of the same rollout adopts its own lock and record: Prepare is idempotent.
//
// An upload of the version that is already stable is refused (ManifestInvalid on `version`): its candidate
// would share the stable's name, and cleaning up after a failure would take the stable down with it. So is a
// manifest whose gates' files cannot be used — an eval suite missing from `evals/` or with bad lines, a stress
// prompt set missing from `prompts/`, too large or with bad lines: every finding of every file is reported
// before a GPU is spent on the candidate.

import { ManifestInvalid, type ModelshipError, RolloutInProgress } from "../core/errors";
import { type CheckedSuiteFile, isBuiltInSuite, suitesToRun } from "../core/eval/eval-plan";
import { type Finding, hasErrors } from "../core/findings";
import { loadManifest, MAX_MANIFEST_BYTES, manifestTooLarge } from "../core/resolution/manifest";
import type { ResolvedManifest } from "../core/manifest/manifest-schema";
import { planRollout } from "../core/rollout/plan";
import type {
  ExecutionInput,
  PrepareResult,
  RolloutIdentity,
  RolloutPlan,
  StressPromptSet,
} from "../core/rollout/rollout";
import { unreadableEntryFinding } from "../core/weights/unreadable-entry";
import type { ObjectVersion } from "../ports";
import type { StageDeps } from "./deps";
import { combinedUse, type DepsUsing, portUse } from "./port-use";
import { loadSuite, SUITE_READS } from "./eval-suites";
import { rolloutEvent } from "./events";
import { loadPromptSet, PROMPT_SET_READS } from "./stress-prompts";
import { runningTransition } from "./running-transition";

/** Reads the manifest and the gates' files, lists the weights (their size), takes the lock and records. */
export const PREPARE_USES = combinedUse(
  SUITE_READS,
  PROMPT_SET_READS,
  portUse({
    objects: { head: ["manifests"], get: ["manifests"], list: ["models"], location: [] },
    store: ["get", "acquireLock", "record"],
    events: ["emit"],
    clock: ["now"],
  }),
);

type PrepareDeps = DepsUsing<typeof PREPARE_USES> & Pick<StageDeps, "config">;

const STAGE = "Prepare";

export async function prepare(state: ExecutionInput, deps: PrepareDeps): Promise<PrepareResult> {
  const { rollout } = state;
  const { manifest, warnings: manifestWarnings } = await readRolloutManifest(rollout, deps);
  const [suites, stressPrompts] = await Promise.all([
    readEvalSuites(manifest, deps),
    readStressPrompts(manifest, deps),
  ]);
  if (suites.unusable !== undefined || stressPrompts.unusable !== undefined) {
    return reject(rollout, deps, gateFilesUnusable(rollout, suites, stressPrompts));
  }
  const warnings = [...manifestWarnings, ...suites.findings, ...stressPrompts.findings];

  const before = await deps.store.get(rollout.model);
  if (before?.stableVersion === rollout.version) {
    return reject(rollout, deps, alreadyStable(rollout));
  }

  const lock = await deps.store.acquireLock(rollout.model, {
    rolloutId: rollout.id,
    version: rollout.version,
    since: deps.clock.now().toISOString(),
    ...(rollout.executionId === undefined ? {} : { executionId: rollout.executionId }),
  });
  if (!lock.acquired && lock.holder.rolloutId !== rollout.id) {
    const { holder } = lock;
    return reject(
      rollout,
      deps,
      new RolloutInProgress(
        `Model ${rollout.model} is already being rolled out: version ${holder.version} (rollout ${holder.rolloutId}) has held its lock since ${holder.since}.`,
        holder,
        {
          hint: `Wait for that rollout to finish, then upload ${rollout.source.key} again; or stop it with \`modelship abort ${rollout.model}\`.`,
        },
      ),
    );
  }

  const record = await deps.store.get(rollout.model);
  const weightBytes = (await deps.objects.list(rollout.source.prefix)).reduce((sum, o) => sum + o.size, 0);
  const plan = planRollout(manifest, record, deps.config, weightBytes, suites.files, stressPrompts.set);
  const alreadyRecorded =
    record?.history.some((t) => t.rolloutId === rollout.id && t.stage === STAGE) ?? false;
  if (!alreadyRecorded) {
    const shadow = plan.shadow
      ? ` First ${plan.shadow.percent}% of ${plan.stableVersion}'s requests are mirrored to it for ${plan.shadow.seconds} s (a shadow: no user sees its answers).`
      : plan.shadowSkipped
        ? ` ${plan.shadowSkipped}`
        : "";
    const reason = plan.stableVersion
      ? `Rolling out ${rollout.model} ${rollout.version} ${strategyPhrase(plan)} against stable ${plan.stableVersion}.${shadow}`
      : `Rolling out ${rollout.model} ${rollout.version}: a first release, no canary.${shadow}`;
    // Emitted before the record is written: a retry after a failed write repeats the event rather than
    // losing it (events are at-least-once).
    await deps.events.emit(
      rolloutEvent("Rollout Started", rollout, STAGE, reason, deps.clock, {
        data: {
          stableVersion: plan.stableVersion ?? null,
          strategy: plan.strategy?.kind ?? "canary",
          canarySteps: plan.canarySteps.map((s) => s.weight),
          ...(plan.shadow && { shadow: plan.shadow }),
          ...(plan.shadowSkipped && { shadowSkipped: plan.shadowSkipped }),
          gates: plan.gates,
          warnings: warnings.length,
        },
      }),
    );
    await deps.store.record(
      rollout.model,
      runningTransition(rollout, STAGE, reason, deps.clock),
      { candidateVersion: rollout.version, status: "running" },
      { owned: true },
    );
  }
  return { manifest, plan };
}

async function readRolloutManifest(
  rollout: RolloutIdentity,
  deps: PrepareDeps,
): Promise<{ manifest: ResolvedManifest; warnings: Finding[] }> {
  const { key } = rollout.source;
  const fileName = key.split("/").at(-1) ?? key;
  const uploaded = uploadedVersion(rollout);
  const info = await deps.objects.head(key, uploaded);
  if (info?.unreadable) {
    return reject(
      rollout,
      deps,
      new ManifestInvalid(`The manifest ${key} is not read.`, {
        findings: [unreadableEntryFinding(fileName, info.unreadable, deps.objects.location)],
        hint: "Write the manifest itself into the version's folder, not a link to it.",
      }),
    );
  }
  const bytes = info && info.size <= MAX_MANIFEST_BYTES ? await deps.objects.get(key, uploaded) : undefined;
  if (info && (info.size > MAX_MANIFEST_BYTES || (bytes && bytes.length > MAX_MANIFEST_BYTES))) {
    return reject(
      rollout,
      deps,
      new ManifestInvalid(`The manifest ${key} is too large to be a manifest.`, {
        findings: [manifestTooLarge(fileName, info.size)],
        hint: "Upload the manifest (settings only) as modelship.yaml; weights go in their own files beside it.",
      }),
    );
  }
  if (!bytes) {
    if (uploaded && (await deps.objects.head(key))) {
      return reject(
        rollout,
        deps,
        new ManifestInvalid(
          `The manifest ${key} in ${deps.objects.location} is no longer the one whose upload started this rollout (${describeVersion(uploaded)}): it was replaced since.`,
          {
            hint: "Nothing of the replaced manifest is used. The upload that replaced it starts a rollout of its own; to roll out this version, upload its manifest again.",
          },
        ),
      );
    }
    return reject(
      rollout,
      deps,
      new ManifestInvalid(`The manifest ${key} is not in ${deps.objects.location}.`, {
        hint: "Upload the manifest last, after the weights: its upload starts the rollout. If it was deleted meanwhile, upload it again.",
      }),
    );
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return reject(
      rollout,
      deps,
      new ManifestInvalid(`The manifest ${key} is not UTF-8 text.`, {
        findings: [
          {
            severity: "error",
            code: "manifest.encoding",
            file: fileName,
            message: "expected UTF-8 text (YAML or JSON), found bytes that are not valid UTF-8.",
          },
        ],
        hint: "Save the manifest as UTF-8 text.",
      }),
    );
  }

  const resolved = loadManifest(
    text,
    { name: rollout.model, version: rollout.version, fileName },
    deps.config,
  );
  const { findings } = resolved;
  if (!resolved.manifest || hasErrors(findings)) {
    const errors = findings.filter((f) => f.severity === "error").length;
    return reject(
      rollout,
      deps,
      new ManifestInvalid(`The manifest ${key} has ${errors} error${errors === 1 ? "" : "s"}.`, {
        findings,
        hint: "Fix every finding listed, then upload the manifest again.",
      }),
    );
  }
  return { manifest: resolved.manifest, warnings: findings };
}

/**
 * The manifest exactly as uploaded: by the S3 version id the upload's event carried, or by its ETag in an
 * unversioned bucket, so a manifest uploaded over it meanwhile cannot take its place. A "Rollout Requested"
 * command names no version: it rolls out the manifest as it is when Prepare reads it.
 */
function uploadedVersion(rollout: RolloutIdentity): ObjectVersion | undefined {
  const { versionId, etag } = rollout.source;
  if (versionId !== undefined) return { versionId };
  if (etag !== undefined) return { etag };
  return undefined;
}

function describeVersion(version: ObjectVersion): string {
  return version.versionId === undefined ? `ETag ${version.etag}` : `version ${version.versionId}`;
}

/** A gate's files as Prepare read them: every finding, and which of them cannot be used. */
interface CheckedGateFiles {
  readonly findings: readonly Finding[];
  /** The unusable files, as a phrase (`eval suites 'a', 'b'`); undefined when every file can be used. */
  readonly unusable?: string;
}

/** Reads and checks every suite file the eval gate names. */
async function readEvalSuites(
  manifest: ResolvedManifest,
  deps: PrepareDeps,
): Promise<CheckedGateFiles & { files: CheckedSuiteFile[] }> {
  const names = suitesToRun(manifest.gates.eval, deps.config.defaults.evalSuite)
    .map((suite) => suite.name)
    .filter((name) => !isBuiltInSuite(name));
  const loaded = await Promise.all(names.map((name) => loadSuite(deps.objects, name)));
  const findings = loaded.flatMap((suite) => suite.findings);
  const broken = loaded.filter((suite) => hasErrors(suite.findings)).map((suite) => `'${suite.name}'`);
  const files = loaded.flatMap((suite) =>
    suite.sha256 === undefined ? [] : [{ name: suite.name, items: suite.items.length, sha256: suite.sha256 }],
  );
  return broken.length === 0
    ? { files, findings }
    : { files, findings, unusable: `eval suite${broken.length === 1 ? "" : "s"} ${broken.join(", ")}` };
}

/** Reads and checks the prompt set an enabled stress gate names. */
async function readStressPrompts(
  manifest: ResolvedManifest,
  deps: PrepareDeps,
): Promise<CheckedGateFiles & { set?: StressPromptSet }> {
  const { enabled, prompts: name } = manifest.gates.stress;
  if (!enabled || name === undefined) return { findings: [] };
  const loaded = await loadPromptSet(deps.objects, name);
  const { findings, key, sha256 } = loaded;
  if (hasErrors(findings) || sha256 === undefined) {
    return { findings, unusable: `stress prompt set '${name}'` };
  }
  return { findings, set: { name, key, sha256, prompts: loaded.prompts.length } };
}

/** Every error of every unusable file, in one rejection. */
function gateFilesUnusable(
  rollout: RolloutIdentity,
  suites: CheckedGateFiles,
  stressPrompts: CheckedGateFiles,
): ManifestInvalid {
  const unusable = [suites, stressPrompts].filter((files) => files.unusable !== undefined);
  const uploads = [
    ...(suites.unusable ? ["the suite files under evals/ (docs/evals.md describes a suite item)"] : []),
    ...(stressPrompts.unusable
      ? [
          'the prompt set under prompts/ (one {"messages": [...]} or {"prompt": "..."} per line; docs/loadgen.md)',
        ]
      : []),
  ];
  return new ManifestInvalid(
    `The ${unusable.map((files) => files.unusable).join(" and the ")} of ${rollout.source.key} cannot be ${suites.unusable ? "run" : "used"}.`,
    {
      findings: unusable.flatMap((files) => files.findings.filter((f) => f.severity === "error")),
      hint: `Fix every line listed and upload ${uploads.join(" and ")}, then upload the manifest again.`,
    },
  );
}

function alreadyStable(rollout: RolloutIdentity): ManifestInvalid {
  const message = `version '${rollout.version}' is already the stable version of ${rollout.model}; a rollout ships a new version.`;
  return new ManifestInvalid(
    `Version ${rollout.version} of ${rollout.model} is already the stable version.`,
    {
      findings: [{ severity: "error", code: "manifest.version-is-stable", path: "version", message }],
      hint: `Upload the new weights as a new version, e.g. under models/${rollout.model}/<new version>/.`,
    },
  );
}

/** Tells the bus why the rollout is refused, then fails the stage with the named error. */
async function reject(rollout: RolloutIdentity, deps: PrepareDeps, error: ModelshipError): Promise<never> {
  await deps.events.emit(
    rolloutEvent("Rollout Rejected", rollout, STAGE, error.reason, deps.clock, {
      error: error.name,
      reason: error.reason,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      ...(error.findings.length
        ? {
            data: {
              findings: error.findings.slice(0, 20).map((f) => `${f.path ? `${f.path}: ` : ""}${f.message}`),
              errors: error.findings.filter((f) => f.severity === "error").length,
            },
          }
        : {}),
    }),
  );
  throw error;
}

/** `as a canary`, `linearly (10% more every 300 s)`, `blue/green (all traffic at once after the gates)`. */
function strategyPhrase(plan: RolloutPlan): string {
  const strategy = plan.strategy ?? { kind: "canary" };
  switch (strategy.kind) {
    case "canary":
      return "as a canary";
    case "linear":
      return `linearly (${strategy.stepPercent}% more every ${strategy.intervalSeconds} s)`;
    case "blueGreen":
      return "blue/green (all traffic at once after the gates)";
  }
}
