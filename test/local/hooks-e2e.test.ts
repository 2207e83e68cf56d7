// Rollout hooks end to end on this machine, with real llama.cpp servers behind the local gateway: v1 is a first
// release; v2 has a preTraffic URL hook (an HTTP server in this test, on loopback, checking the request's
// signature with the home's key) that passes, and an eachStep hook that is the customer's own regression
// script — a config.json command that sends the candidate a prompt through the gateway with
// `x-modelship-variant: candidate` and fails when the answer lacks what it expects. The random-weights model
// never says "Paris", so v2 is rolled back after its first step with HookFailed naming the hook; v1 serves
// 100% again and nothing of v2 is left running.

import { createHmac } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { HookRequest } from "../../lib/core/gates/hooks";
import { type ControlPlane, startControlPlane } from "../../lib/local/control-plane";
import { hookSigningKeyPath } from "../../lib/local/local-hooks";
import { isRunning } from "../support/process-alive";
import { keepServerPid, tinyManifest, uploadTiny } from "../support/tiny-canary";

/** The customer's regression script, as docs/hooks.md shows it: one prompt, one expectation. */
export const REGRESSION_SCRIPT = `// regression.mjs: a modelship hook. Reads the hook's request on stdin, asks the candidate
// (through the gateway, with its test headers) the regression prompts, prints {"pass", "reason"}.
const request = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => resolve(text));
}));
const { baseUrl, headers, model } = request.candidate;
const cases = [{ prompt: "What is the capital of France?", expect: "Paris" }];
const failures = [];
for (const { prompt, expect } of cases) {
  const response = await fetch(baseUrl + "/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], max_tokens: 8, temperature: 0 }),
  });
  const served = response.headers.get("x-modelship-version");
  const answer = (await response.json()).choices?.[0]?.message?.content ?? "";
  if (served !== request.version) failures.push(\`"\${prompt}" was answered by \${served}, not \${request.version}\`);
  else if (!answer.includes(expect)) failures.push(\`"\${prompt}" → \${JSON.stringify(answer)}, expected "\${expect}"\`);
}
console.log(JSON.stringify({
  pass: failures.length === 0,
  reason: failures.length === 0 ? \`\${cases.length} regression prompts pass\` : failures.join("; "),
}));
`;

let work: string;
let home: string;
let controlPlane: ControlPlane;
let hookServer: Server;
let hookUrl: string;
const received: { signature: string | undefined; body: string }[] = [];
const events: ModelshipEvent[] = [];
const logged: string[] = [];
const pids = new Map<string, number>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-hooks-e2e-"));
  home = join(work, ".modelship");
  await mkdir(home);
  const script = join(work, "regression.mjs");
  await writeFile(script, REGRESSION_SCRIPT);
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({
      canaryMetrics: { probeEverySeconds: 2, probeRequests: 2, probeMaxTokens: 4 },
      local: { threads: 1 },
      hooks: { functions: [{ name: "regression", command: [process.execPath, script] }] },
    }),
  );
  hookServer = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    request.on("end", () => {
      const signature = request.headers["x-modelship-signature"];
      received.push({ signature: typeof signature === "string" ? signature : undefined, body });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ pass: true, reason: "change ticket CHG-1234 is approved" }));
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/modelship-hook`;
  controlPlane = await startControlPlane({
    home,
    timeFactor: 1,
    port: 0,
    onEvent: (event) => {
      events.push(event);
      keepServerPid(pids, event);
    },
    log: (message) => void logged.push(message),
  });
}, 60_000);

afterAll(async () => {
  await controlPlane?.close();
  await new Promise((resolve) => hookServer?.close(resolve));
  await rm(work, { recursive: true, force: true });
});

async function until(version: string, detailType: string, timeoutMs: number): Promise<ModelshipEvent> {
  return vi.waitFor(
    () => {
      const found = events.find((e) => e.detail.version === version && e.detailType === detailType);
      if (!found) throw new Error(`no ${detailType} for ${version} yet`);
      return found;
    },
    { timeout: timeoutMs, interval: 150 },
  );
}

const ALARMS = `  alarms:
    latencyP95Ms: 5000
    errorRate: 0.5
    periodSeconds: 10
    datapointsToAlarm: 1
    evaluationPeriods: 2
    treatMissingData: notBreaching`;

describe("Rollout hooks on the local runtime, with llama.cpp behind the local gateway", () => {
  it("releases v1 without hooks", async () => {
    await uploadTiny(home, "v1", 1, tinyManifest("v1", `  watchSeconds: 2\n${ALARMS}`));
    await vi.waitFor(
      () => {
        const done = events.find((e) => e.detail.version === "v1" && e.detail.stage === "Finalize");
        if (!done) throw new Error("v1 not finalized yet");
      },
      { timeout: 120_000, interval: 150 },
    );
  }, 150_000);

  it("rolls v2 back when the customer's regression script fails it after the first step, naming the hook", async () => {
    const manifest = tinyManifest(
      "v2",
      `  steps: [{weight: 20, bakeSeconds: 2}, 100]\n  bakeSeconds: 2\n  watchSeconds: 2\n${ALARMS}`,
    ).replace(
      "  eval:\n    enabled: false\n",
      `  eval:\n    enabled: false\n  hooks:\n    - {name: change-ticket, at: preTraffic, url: "${hookUrl}"}\n    - {name: regression, at: eachStep, lambda: regression, timeoutSeconds: 60}\n`,
    );
    await uploadTiny(home, "v2", 2, manifest);

    const rolledBack = await until("v2", "Model Rolled Back", 150_000);
    expect(rolledBack.detail.reason).toContain("Hook 'regression' (eachStep) failed:");
    expect(rolledBack.detail.reason).toContain('expected "Paris"');

    // The preTraffic hook was called once, signed with the home's key, about v2 at 0%.
    expect(received).toHaveLength(1);
    const key = (await readFile(hookSigningKeyPath(home), "utf8")).trim();
    const [call] = received;
    expect(call?.signature).toBe(
      `sha256=${createHmac("sha256", key)
        .update(call?.body ?? "")
        .digest("hex")}`,
    );
    const request = JSON.parse(call?.body ?? "{}") as HookRequest;
    expect([request.hook, request.at, request.version, request.stableVersion, request.weights]).toEqual([
      "change-ticket",
      "preTraffic",
      "v2",
      "v1",
      { stable: 100, candidate: 0 },
    ]);
    const preTraffic = events.find((e) => e.detail.version === "v2" && e.detail.stage === "PreTrafficHooks");
    expect(preTraffic?.detail.message).toBe("The preTraffic hooks ran: change-ticket passed.");

    // v2 reached its first step, no further; its execution ends RolledBack with the hook's failure.
    const weights = events
      .filter((e) => e.detail.version === "v2" && e.detailType === "Canary Weight Changed")
      .map((e) => e.detail.data?.["weight"] ?? e.detail.message);
    expect(weights).toHaveLength(1);
    expect(events.some((e) => e.detail.version === "v2" && e.detailType === "Model Promoted")).toBe(false);
    const execution = controlPlane.runtime.executions.get(rolledBack.detail.executionArn);
    const result = await execution?.result;
    expect(result?.status === "FAILED" && result.error.Error).toBe("RolledBack");

    const route = await controlPlane.runtime.gateway.describe("tiny");
    expect(route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([["stable", "v1", 100]]);
    const record = await controlPlane.runtime.deps.store.get("tiny");
    expect(record?.status).toBe("rolled_back");
    expect(record?.lock).toBeUndefined();
    await vi.waitFor(() => expect(isRunning(pids.get("v2") as number)).toBe(false), { timeout: 30_000 });
  }, 240_000);

  it("leaves nothing running once the control plane stops", async () => {
    const { runtime } = controlPlane;
    await controlPlane.close();
    for (const [version, pid] of pids) expect([version, isRunning(pid)]).toEqual([version, false]);
    expect(runtime.metrics.probers()).toEqual([]);
    expect(logged.filter((line) => !/probe round/.test(line))).toEqual([]);
  }, 60_000);
});
