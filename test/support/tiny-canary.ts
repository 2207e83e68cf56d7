// What the local canary end-to-end tests share: a control plane on a fresh home whose prober runs every 2 s
// (2 requests, 4 tokens each) on one llama.cpp thread, the manifest of the generated `tiny` model with its
// gates off but the smoke test (and short bakes allowed), an upload of a version into the watched bucket
// as the upload contract says, and what the tests watch and ask of the control plane while `tiny` rolls out:
// its route and alarms, sampled; a chat through the gateway, or users' chats until stopped; its status from the
// admin API; each version's server pid.

import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as pause } from "node:timers/promises";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import type { LocalModelStatus } from "../../lib/local/control-plane-api";
import { afterAll, beforeAll, vi } from "vitest";
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

/**
 * `rollout.alarms` (indented YAML lines) that judge real traffic: p95 latency over 800 ms from both sources (the
 * prober's chats and the server's own metrics), errors and the comparison with the stable from the prober alone;
 * two breaching 10 s periods in a row are needed, so one slow probe round on a busy machine rolls nothing back.
 */
export const TRAFFIC_LATENCY_ALARMS = `  alarms:
    latencyP95Ms: { threshold: 800, source: both }
    errorRate: { threshold: 0.5, source: probe }
    vsStable: { source: probe }
    periodSeconds: 10
    datapointsToAlarm: 2
    evaluationPeriods: 2
    treatMissingData: notBreaching`;

/**
 * A control plane on `<work>/.modelship`, probing every 2 s, telling its events and logs — and, given `pids`,
 * keeping there each version's server pid as its DeployCandidate event tells it (to check later that it is gone);
 * `local` adds settings of config.json's `local` (e.g. maxServers).
 */
export async function tinyControlPlane(
  prefix: string,
  sinks: {
    readonly events: ModelshipEvent[];
    readonly logged: string[];
    readonly pids?: Map<string, number>;
  },
  local: Record<string, unknown> = {},
): Promise<{ readonly work: string; readonly controlPlane: ControlPlane }> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const home = join(work, ".modelship");
  await mkdir(home);
  // Probes every 2 s with a 2 s timeout: a 1.5 s injected delay shows as latency, not as failures.
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({
      canaryMetrics: { probeEverySeconds: 2, probeRequests: 2, probeMaxTokens: 4 },
      local: { threads: 1, ...local },
    }),
  );
  const controlPlane = await startControlPlane({
    home,
    timeFactor: 1,
    port: 0,
    onEvent: (event) => {
      sinks.events.push(event);
      if (sinks.pids) keepServerPid(sinks.pids, event);
    },
    log: (message) => void sinks.logged.push(message),
  });
  return { work, controlPlane };
}

/** Keeps in `pids` the pid of the version's server when `event` is the DeployCandidate event that tells it. */
export function keepServerPid(pids: Map<string, number>, event: ModelshipEvent): void {
  const where = event.detail.data?.["where"] as { pid?: unknown } | undefined;
  if (event.detail.stage === "DeployCandidate" && typeof where?.pid === "number") {
    pids.set(event.detail.version, where.pid);
  }
}

/**
 * Registers a test file's control plane (see tinyControlPlane): started before the file's tests, closed and its
 * folder removed after them. `controlPlane` is the running one, for the tests and their helpers to read.
 */
export function tinyControlPlaneForFile(
  prefix: string,
  sinks: Parameters<typeof tinyControlPlane>[1],
): { readonly controlPlane: ControlPlane } {
  let started: { readonly work: string; readonly controlPlane: ControlPlane } | undefined;
  beforeAll(async () => {
    started = await tinyControlPlane(prefix, sinks);
  }, 60_000);
  afterAll(async () => {
    if (!started) return;
    await started.controlPlane.close();
    await rm(started.work, { recursive: true, force: true });
  });
  return {
    get controlPlane() {
      if (!started) throw new Error("The control plane starts in beforeAll: read it inside a test.");
      return started.controlPlane;
    },
  };
}

/** Copies a version of `tiny` (or of another `model`) into the watched bucket as a user would: the weights, then the manifest. */
export async function uploadTiny(
  home: string,
  version: string,
  seed: number,
  manifest: string,
  model = "tiny",
): Promise<void> {
  const folder = join(home, "bucket", "models", model, version);
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
 * Waits, within `timeoutMs`, for the first `detailType` event of `version`, running `poll` (a sampler) at each
 * look. Fails at once when the version's rollout failed — or, with `rollbackFails`, was rolled back while
 * something else was awaited — naming the version's events so far.
 */
export async function untilEvent(
  events: readonly ModelshipEvent[],
  version: string,
  detailType: string,
  options: {
    readonly timeoutMs: number;
    readonly poll?: () => Promise<void>;
    readonly rollbackFails?: boolean;
  },
): Promise<ModelshipEvent> {
  return vi.waitFor(
    async () => {
      await options.poll?.();
      const found = events.find((e) => e.detail.version === version && e.detailType === detailType);
      if (found) return found;
      const failed = events.find(
        (e) =>
          e.detail.version === version &&
          (e.detailType === "Stage Failed" ||
            (options.rollbackFails === true && e.detailType === "Model Rolled Back")),
      );
      if (failed) throw new Error(`${version}: ${failed.detailType}: ${JSON.stringify(failed.detail)}`);
      const trail = events
        .filter((e) => e.detail.version === version)
        .map((e) => `${e.time} ${e.detailType} (${e.detail.stage})`);
      throw new Error(`no ${detailType} for ${version} yet; its events so far:\n${trail.join("\n")}`);
    },
    { timeout: options.timeoutMs, interval: 200 },
  );
}

/** Waits, within `timeoutMs`, for `version`'s Finalize stage to have told anything: its rollout is over. */
export async function untilFinalized(
  events: readonly ModelshipEvent[],
  version: string,
  timeoutMs: number,
): Promise<void> {
  await vi.waitFor(
    () => {
      if (!events.some((e) => e.detail.version === version && e.detail.stage === "Finalize")) {
        throw new Error(`${version} not finalized yet`);
      }
    },
    { timeout: timeoutMs, interval: 200 },
  );
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

/** One user's chat as `tinyUserChats` saw it answered; status 0 when no answer came (`error` says why). */
export interface UserAnswer {
  readonly status: number;
  readonly variant: string | null;
  readonly version: string | null;
  readonly error?: string;
}

/**
 * Chats with `tiny` through the control plane's gateway as users do — `prompt` with `headers`, at most
 * `concurrency` in flight, a new one every `paceMs` — until `stop`, which resolves with every answer once the
 * chats in flight are in.
 */
export function tinyUserChats(
  controlPlane: ControlPlane,
  options: {
    readonly prompt: string;
    readonly maxTokens: number;
    readonly concurrency: number;
    readonly paceMs: number;
    readonly timeoutMs: number;
    readonly headers?: Record<string, string>;
  },
): { stop: () => Promise<UserAnswer[]> } {
  let stopped = false;
  const answers: UserAnswer[] = [];
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    while (!stopped) {
      if (inFlight.size < options.concurrency) {
        const request = fetch(`${controlPlane.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...options.headers },
          body: JSON.stringify({
            model: "tiny",
            messages: [{ role: "user", content: options.prompt }],
            max_tokens: options.maxTokens,
          }),
          signal: AbortSignal.timeout(options.timeoutMs),
        })
          .then(async (response) => {
            await response.arrayBuffer();
            answers.push({
              status: response.status,
              variant: response.headers.get("x-modelship-variant"),
              version: response.headers.get("x-modelship-version"),
            });
          })
          .catch(
            (error: unknown) =>
              void answers.push({ status: 0, variant: null, version: null, error: String(error) }),
          );
        const tracked = request.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
      // Pacing the load, not waiting for a result.
      await pause(options.paceMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      return answers;
    },
  };
}

/**
 * Has the candidate's server hold every long prompt (100 tokens or more) 1.5 s before its turn, through the admin
 * API: users' long prompts are slow on the candidate, the prober's short chats are not. Resolves with the status.
 */
export async function slowCandidateOnLongPrompts(controlPlane: ControlPlane): Promise<number> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "faults/tiny/candidate", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ serverDelay: { fixedDelayMs: 1500, minPromptTokens: 100, percentage: 100 } }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** `tiny`'s status as the control plane's admin API answers it. */
export async function tinyStatus(controlPlane: ControlPlane): Promise<LocalModelStatus> {
  const response = await adminFetch(controlPlane.url, controlPlane.home, "status?model=tiny");
  const { models } = (await response.json()) as { models: LocalModelStatus[] };
  return models[0] as LocalModelStatus;
}
