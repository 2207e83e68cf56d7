// What the local canary end-to-end tests share: a control plane on a fresh home whose prober runs every 2 s
// (2 requests, 4 tokens each) on one llama.cpp thread, the manifest of the generated `tiny` model with its
// gates off but the smoke test (and short bakes allowed), and an upload of a version into the watched bucket
// as the upload contract says.

import { mkdir, mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelshipEvent } from "../../lib/core/events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { vi } from "vitest";

/** `tiny`'s manifest for `version`, with `rollout` (indented YAML lines) as its rollout settings. */
export function tinyManifest(version: string, rollout: string): string {
  return `name: tiny
version: ${version}
format: gguf
serving:
  runtime: llama.cpp
  maxModelLen: 256
gates:
  smoke:
    rejectDegenerate: false
  stress:
    enabled: false
  eval:
    enabled: false
rollout:
  # Bakes of seconds, shorter than the alarms' window, on purpose: these tests follow the steps and a rollback
  # the alarm starts in the middle of a long bake, not whether every short bake is judged.
  allowShortBakes: true
${rollout}
`;
}

/** `rollout.alarms` (indented YAML lines) judging one 10 s period: latency at `latencyP95Ms`, errors at 50%. */
export function tinyAlarms(latencyP95Ms: number): string {
  return `  alarms:
    latencyP95Ms: ${latencyP95Ms}
    errorRate: 0.5
    periodSeconds: 10
    datapointsToAlarm: 1
    evaluationPeriods: 2
    treatMissingData: notBreaching`;
}

/** A control plane on `<work>/.modelship`, probing every 2 s, telling its events and logs. */
export async function tinyControlPlane(
  prefix: string,
  sinks: { readonly events: ModelshipEvent[]; readonly logged: string[] },
): Promise<{ readonly work: string; readonly controlPlane: ControlPlane }> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const home = join(work, ".modelship");
  await mkdir(home);
  // Probes every 2 s with a 2 s timeout: a 1.5 s injected delay shows as latency, not as failures.
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({
      canaryMetrics: { probeEverySeconds: 2, probeRequests: 2, probeMaxTokens: 4 },
      local: { threads: 1 },
    }),
  );
  const controlPlane = await startControlPlane({
    home,
    timeFactor: 1,
    port: 0,
    onEvent: (event) => void sinks.events.push(event),
    log: (message) => void sinks.logged.push(message),
  });
  return { work, controlPlane };
}

/** Copies a version of `tiny` into the watched bucket as a user would: the weights, then the manifest. */
export async function uploadTiny(
  home: string,
  version: string,
  seed: number,
  manifest: string,
): Promise<void> {
  const folder = join(home, "bucket", "models", "tiny", version);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf({ seed }));
  // The upload contract: the manifest last, written whole by a rename.
  await writeFile(join(folder, ".modelship.yaml.tmp"), manifest);
  await rename(join(folder, ".modelship.yaml.tmp"), join(folder, "modelship.yaml"));
}

/**
 * Finding and waiting for a version's events among those a control plane told: `until` waits, with a generous
 * bound, for an event of `version` (of `stage`, when given), and fails at once if the version's rollout failed.
 */
export function eventsOf(events: readonly ModelshipEvent[]) {
  const eventOf = (version: string, detailType: string, stage?: string): ModelshipEvent | undefined =>
    events.find(
      (e) =>
        e.detail.version === version &&
        e.detailType === detailType &&
        (stage === undefined || e.detail.stage === stage),
    );
  const until = (version: string, detailType: string, stage?: string): Promise<ModelshipEvent> =>
    vi.waitFor(
      () => {
        const found = eventOf(version, detailType, stage);
        if (found) return found;
        const failed = eventOf(version, "Stage Failed");
        if (failed && detailType !== "Stage Failed")
          throw new Error(`${version} failed: ${failed.detail.message}`);
        throw new Error(`no ${detailType} for ${version} yet`);
      },
      { timeout: 120_000, interval: 200 },
    );
  return { eventOf, until };
}
