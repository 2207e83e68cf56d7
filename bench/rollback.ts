// How fast a bad canary is taken off the traffic on the local runtime: a control plane with real llama.cpp
// servers runs v1 as the stable and v2 as a canary at 50%; a 1.5 s delay is then injected into the
// candidate's requests at the gateway, and the clock runs from that fault's onset until the route sends
// 100% to v1 again (the alarm loop's rollback). Printed as a multiple of the alarm period, against the goal
// of DatapointsToAlarm + 1 periods (the breaching periods, plus up to one period for the onset to fall
// anywhere in a period), for a few period and M-of-N settings.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildTinyLlamaGguf } from "../lib/examples/gguf-model";
import { type ControlPlane, startControlPlane } from "../lib/local/control-plane";
import { readAdminSecret } from "../lib/local/admin-auth";

interface Setting {
  readonly periodSeconds: number;
  readonly datapointsToAlarm: number;
  readonly evaluationPeriods: number;
}

const SETTINGS: readonly Setting[] = [
  { periodSeconds: 10, datapointsToAlarm: 1, evaluationPeriods: 1 },
  { periodSeconds: 10, datapointsToAlarm: 2, evaluationPeriods: 3 },
  { periodSeconds: 20, datapointsToAlarm: 1, evaluationPeriods: 2 },
];
const FAULT_DELAY_MS = 1500;
const LATENCY_THRESHOLD_MS = 800;

export async function bench(): Promise<void> {
  console.log("rollback: fault onset → 100% back on stable, in alarm periods (local runtime, llama.cpp)");
  console.log("  period  M of N  measured  goal (M+1)");
  for (const setting of SETTINGS) {
    const periods = await measure(setting);
    const goal = setting.datapointsToAlarm + 1;
    console.log(
      `  ${`${setting.periodSeconds}s`.padEnd(6)}  ${`${setting.datapointsToAlarm} of ${setting.evaluationPeriods}`.padEnd(6)}  ${periods.toFixed(2).padStart(8)}  ${goal}${periods <= goal ? "" : "  (over the goal)"}`,
    );
  }
}

async function measure(setting: Setting): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), "modelship-bench-rollback-"));
  const home = join(work, ".modelship");
  await mkdir(home);
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({ canaryMetrics: { probeEverySeconds: 2, probeRequests: 2, probeMaxTokens: 4 } }),
  );
  const controlPlane = await startControlPlane({ home, timeFactor: 1, port: 0, log: () => undefined });
  try {
    // v1 is a first release watched for a second: the bench times v2's rollback, not v1's watch.
    await release(controlPlane, "v1", 1, "  watchSeconds: 1\n  allowShortBakes: true", setting);
    await until(controlPlane, (route) => route === "stable v1 100", 120_000);
    while ((await controlPlane.runtime.deps.store.get("tiny"))?.lock) await sleep(100);
    await release(controlPlane, "v2", 2, "  steps: [{ weight: 50, bakeSeconds: 600 }]", setting);
    await until(controlPlane, (route) => route === "stable v1 50, candidate v2 50", 120_000);

    const onset = performance.now();
    const fault = await fetch(`${controlPlane.url}/_modelship/faults/tiny/candidate`, {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await readAdminSecret(controlPlane.home)}`,
      },
      body: JSON.stringify({ delay: { fixedDelayMs: FAULT_DELAY_MS, percentage: 100 } }),
    });
    if (!fault.ok) throw new Error(`The fault was refused: ${await fault.text()}`);
    const budgetMs = (setting.evaluationPeriods + 4) * setting.periodSeconds * 1000;
    await until(controlPlane, (route) => route === "stable v1 100", budgetMs);
    return (performance.now() - onset) / 1000 / setting.periodSeconds;
  } finally {
    await controlPlane.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function release(
  controlPlane: ControlPlane,
  version: string,
  seed: number,
  rollout: string,
  { periodSeconds, datapointsToAlarm, evaluationPeriods }: Setting,
): Promise<void> {
  const folder = join(controlPlane.home, "bucket", "models", "tiny", version);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf({ seed }));
  await writeFile(
    join(folder, "modelship.yaml"),
    [
      `name: tiny`,
      `version: ${version}`,
      `format: gguf`,
      `serving: { runtime: llama.cpp, maxModelLen: 256 }`,
      `gates: { smoke: { rejectDegenerate: false }, stress: { enabled: false }, eval: { enabled: false } }`,
      `rollout:`,
      rollout,
      `  alarms: { latencyP95Ms: ${LATENCY_THRESHOLD_MS}, errorRate: 0.5, periodSeconds: ${periodSeconds}, datapointsToAlarm: ${datapointsToAlarm}, evaluationPeriods: ${evaluationPeriods}, treatMissingData: notBreaching }`,
      "",
    ].join("\n"),
  );
}

/** Polls the gateway's route of `tiny` until `done` holds for its description. */
async function until(
  controlPlane: ControlPlane,
  done: (route: string) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let route = "";
  while (performance.now() < deadline) {
    const state = await controlPlane.runtime.gateway.describe("tiny");
    route = state?.backends.map((b) => `${b.variant} ${b.version} ${b.weight}`).join(", ") ?? "none";
    if (done(route)) return;
    await sleep(20);
  }
  throw new Error(`The route of tiny did not get there within ${timeoutMs / 1000} s: it is ${route}.`);
}
