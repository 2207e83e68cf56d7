// What the local canary end-to-end tests share: a control plane on a fresh home whose prober runs every 2 s
// (2 requests, 4 tokens each) on one llama.cpp thread, the manifest of the generated `tiny` model with its
// gates off but the smoke test (and short bakes allowed), an upload of a version into the watched bucket
// as the upload contract says, and what the tests watch and ask of the control plane while `tiny` rolls out:
// its route and alarms, sampled; a chat through the gateway; its status from the admin API.

import { mkdir, mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";
import { vi } from "vitest";
import { adminFetch } from "./admin-fetch";

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

/**
 * Samples `tiny`'s route on the control plane (`controlPlane` is read at each sample, as tests start it in a
 * beforeAll): `seen` is every distinct route the gateway had, in order (`stable v1 75, candidate v2 25`),
 * `alarmNames` every alarm the rollout record named.
 */
export function tinyRouteSampler(controlPlane: () => ControlPlane) {
  const seen: string[] = [];
  const alarmNames = new Set<string>();
  const sample = async (): Promise<void> => {
    const { runtime } = controlPlane();
    const route = await runtime.gateway.describe("tiny");
    const text = route
      ? route.backends.map((b) => `${b.variant} ${b.version} ${b.weight}`).join(", ")
      : "none";
    if (seen.at(-1) !== text) seen.push(text);
    const record = await runtime.deps.store.get("tiny");
    for (const name of record?.alarmNames ?? []) alarmNames.add(name);
  };
  return { seen, alarmNames, sample };
}

/** One short chat with `tiny` through the control plane's gateway: its status and the version that answered. */
export async function chatWithTiny(
  controlPlane: ControlPlane,
  headers: Record<string, string> = {},
): Promise<{ status: number; version: string }> {
  const response = await fetch(`${controlPlane.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    signal: AbortSignal.timeout(30_000),
  });
  await response.arrayBuffer();
  return { status: response.status, version: response.headers.get("x-modelship-version") ?? "" };
}

/** `tiny`'s status as the control plane's admin API answers it. */
export async function tinyStatus(controlPlane: ControlPlane): Promise<LocalModelStatus> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "status?model=tiny");
  const { models } = (await response.json()) as { models: LocalModelStatus[] };
  return models[0] as LocalModelStatus;
}
