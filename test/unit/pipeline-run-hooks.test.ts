import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_STACK_CONFIG, type StackConfig } from "../../lib/core/config/config";
import { HookFailed } from "../../lib/core/errors";
import { formatFinding } from "../../lib/core/findings";
import type { HookRequest } from "../../lib/core/gates/hooks";
import { parseManifest, resolveManifest } from "../../lib/core/resolution/manifest";
import type { ExecutionState } from "../../lib/core/rollout/rollout";
import { runHooks } from "../../lib/pipeline/run-hooks";
import { callUrlHook, hookSignature } from "../../lib/pipeline/url-hook";
import { canaryWorld } from "../support/canary-world";

const CONFIG: StackConfig = {
  ...DEFAULT_STACK_CONFIG,
  gateway: { ...DEFAULT_STACK_CONFIG.gateway, url: "http://127.0.0.1:8080" },
  hooks: {
    functions: [{ name: "regression-check", command: ["true"] }],
    urlHooks: true,
    loopbackHttp: true,
  },
};

function stateWithHooks(hooksYaml: string): ExecutionState {
  const parsed = parseManifest(`gates:\n  hooks:\n${hooksYaml}`, "modelship.yaml");
  if (!parsed.manifest) throw new Error(parsed.findings.map(formatFinding).join("\n"));
  const { manifest, findings } = resolveManifest(parsed.manifest, { name: "llama", version: "v2" }, CONFIG);
  if (!manifest) throw new Error(findings.map(formatFinding).join("\n"));
  return {
    rollout: {
      id: "llama-v2-0badf00d",
      model: "llama",
      version: "v2",
      source: { bucket: "b", key: "models/llama/v2/modelship.yaml", prefix: "models/llama/v2/" },
    },
    manifest,
    plan: { stableVersion: "v1", hasStable: true } as ExecutionState["plan"],
    canary: { step: 2, steps: 3, weight: 25, bakeSeconds: 60 },
  };
}

/** A world whose store has the state's rollout holding llama's lock, as while its execution runs. */
async function lockedWorld() {
  const world = canaryWorld({ config: CONFIG });
  await world.store.acquireLock("llama", {
    rolloutId: "llama-v2-0badf00d",
    version: "v2",
    since: world.clock.now().toISOString(),
  });
  return world;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** An HTTP server on port 0 answering each request with the next of `answers`, recording what it got. */
async function hookServer(
  answers: ((request: IncomingMessage, response: ServerResponse, body: string) => void)[],
): Promise<{ url: string; received: { headers: IncomingMessage["headers"]; body: string }[] }> {
  const received: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      const answer = answers[Math.min(received.length - 1, answers.length - 1)];
      answer?.(request, response, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`, received };
}

const json = (value: unknown) => (_: IncomingMessage, response: ServerResponse) => {
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
};
const status = (code: number) => (_: IncomingMessage, response: ServerResponse) => {
  response.writeHead(code).end("no");
};

describe("RunHooks", () => {
  it("sends a function hook the rollout, the weights at this point, the reports and how to reach the candidate", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", '{"pass": true, "reason": "40 of 40 prompts unchanged"}');
    const state = stateWithHooks("    - {name: regression, at: eachStep, lambda: regression-check}\n");

    const result = await runHooks({ at: "eachStep", state }, world);

    expect(result).toEqual({
      at: "eachStep",
      results: [
        { name: "regression", pass: true, reason: "40 of 40 prompts unchanged", durationMs: 0, attempts: 1 },
      ],
    });
    const call = world.hooks.calls[0];
    expect(call?.timeoutMs).toBe(60_000);
    expect(call?.request).toEqual({
      hook: "regression",
      at: "eachStep",
      rolloutId: "llama-v2-0badf00d",
      model: "llama",
      version: "v2",
      stableVersion: "v1",
      weights: { stable: 75, candidate: 25 },
      reports: `${world.objects.location}/reports/llama/v2/llama-v2-0badf00d/`,
      candidate: {
        baseUrl: "http://127.0.0.1:8080/v1",
        headers: { "x-modelship-variant": "candidate", "x-model-id": "llama" },
        model: "llama",
      },
      sentAt: "2025-06-01T12:00:00.000Z",
    } satisfies HookRequest);
    expect(world.events.emitted.map((e) => [e.detailType, e.detail.stage, e.detail.message])).toEqual([
      ["Stage Succeeded", "StepHooks", "The eachStep hooks ran: regression passed."],
    ]);
  });

  it("runs only the hooks of its point", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", '{"pass": true}');
    const state = stateWithHooks(
      "    - {name: before, at: preTraffic, lambda: regression-check}\n    - {name: after, at: postPromote, lambda: regression-check}\n",
    );

    await runHooks({ at: "postPromote", state }, world);

    expect(world.hooks.calls.map((c) => [c.request.hook, c.request.weights])).toEqual([
      ["after", { stable: 0, candidate: 100 }],
    ]);
  });

  it("fails with HookFailed naming the hook, its point and its reason", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", '{"pass": false, "reason": "3 of 40 answers changed"}');
    const state = stateWithHooks("    - {name: regression, at: preTraffic, lambda: regression-check}\n");

    const failing = runHooks({ at: "preTraffic", state }, world);

    await expect(failing).rejects.toBeInstanceOf(HookFailed);
    await expect(failing).rejects.toThrow("Hook 'regression' (preTraffic) failed: 3 of 40 answers changed");
    await expect(failing).rejects.toThrow("No traffic reached the candidate");
  });

  it("fails a hook that cannot be run, saying why", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", new Error("did not answer within 60 s"));
    const state = stateWithHooks("    - {name: regression, at: eachStep, lambda: regression-check}\n");

    await expect(runHooks({ at: "eachStep", state }, world)).rejects.toThrow(
      "Hook 'regression' (eachStep) failed: did not answer within 60 s",
    );
  });

  it("records a failure its hook ignores, announces it and runs the next hook", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", '{"pass": false, "reason": "conversion -2%"}');
    const server = await hookServer([json({ pass: true })]);
    const state = stateWithHooks(
      `    - {name: kpis, at: eachStep, lambda: regression-check, onFailure: ignore}\n    - {name: web, at: eachStep, url: "${server.url}"}\n`,
    );

    const result = await runHooks({ at: "eachStep", state }, world);

    expect(result.results).toEqual([
      { name: "kpis", pass: false, reason: "conversion -2%", ignored: true, durationMs: 0, attempts: 1 },
      { name: "web", pass: true, reason: "passed", durationMs: 0, attempts: 1 },
    ]);
    expect(world.events.emitted.at(-1)?.detail.message).toBe(
      "The eachStep hooks ran: kpis failed (ignored: onFailure ignore): conversion -2%; web passed.",
    );
  });

  it("records each hook's run in the model's history, the one that stops the rollout too", async () => {
    const world = await lockedWorld();
    world.hooks.answers.set("regression-check", '{"pass": false, "reason": "3 of 40 answers changed"}');
    const server = await hookServer([status(503), json({ pass: true, reason: "kpis fine" })]);
    const state = stateWithHooks(
      `    - {name: web, at: eachStep, url: "${server.url}"}\n    - {name: regression, at: eachStep, lambda: regression-check}\n`,
    );

    await expect(runHooks({ at: "eachStep", state }, world)).rejects.toBeInstanceOf(HookFailed);

    const history = (await world.store.get("llama"))?.history ?? [];
    expect(history.map((t) => [t.stage, t.hook])).toEqual([
      [
        "StepHooks",
        {
          name: "web",
          at: "eachStep",
          result: "passed",
          reason: "kpis fine",
          durationMs: 0,
          attempts: 2,
          step: 2,
        },
      ],
      [
        "StepHooks",
        {
          name: "regression",
          at: "eachStep",
          result: "failed",
          reason: "3 of 40 answers changed",
          durationMs: 0,
          attempts: 1,
          step: 2,
        },
      ],
    ]);
    expect(history[1]?.reason).toBe(
      "Hook regression (eachStep, step 2): failed in 0 s, 1 attempt: 3 of 40 answers changed",
    );
  });

  it("signs a URL hook's body with the stack's key, in a header the receiver can verify", async () => {
    const world = await lockedWorld();
    const server = await hookServer([json({ pass: true, reason: "kpis fine" })]);
    const state = stateWithHooks(`    - {name: web, at: prePromote, url: "${server.url}"}\n`);

    await runHooks({ at: "prePromote", state }, world);

    const [got] = server.received;
    const expected = `sha256=${createHmac("sha256", world.hooks.key)
      .update(got?.body ?? "")
      .digest("hex")}`;
    expect(got?.headers["x-modelship-signature"]).toBe(expected);
    expect(got?.headers["content-type"]).toBe("application/json");
    expect((JSON.parse(got?.body ?? "{}") as HookRequest).weights).toEqual({ stable: 75, candidate: 25 });
  });
});

describe("callUrlHook", () => {
  const call = (url: string, overrides: Partial<Parameters<typeof callUrlHook>[0]> = {}) =>
    callUrlHook({ url, body: '{"hook":"web"}', key: "k", timeoutMs: 10_000, retryDelayMs: 1, ...overrides });

  it("retries a 5xx and a 429 with backoff, and answers the first 2xx", async () => {
    const server = await hookServer([status(503), status(429), json({ pass: true })]);

    await expect(call(server.url)).resolves.toBe('{"pass":true}');
    expect(server.received).toHaveLength(3);
  });

  it("gives up after its attempts, saying what the hook answered", async () => {
    const server = await hookServer([status(500)]);

    await expect(call(server.url, { attempts: 2 })).rejects.toThrow(
      "answered HTTP 500 (2 attempts within 10 s)",
    );
    expect(server.received).toHaveLength(2);
  });

  it("does not retry a 4xx: the hook refused the request", async () => {
    const server = await hookServer([status(401)]);

    await expect(call(server.url)).rejects.toThrow("answered HTTP 401");
    expect(server.received).toHaveLength(1);
  });

  it("does not follow a redirect", async () => {
    const server = await hookServer([
      (_, response) => response.writeHead(302, { location: "http://example.com/" }).end(),
    ]);

    await expect(call(server.url)).rejects.toThrow("a redirect, which is not followed");
  });

  it("refuses an answer larger than 64 KiB without reading it all", async () => {
    const server = await hookServer([
      (_, response) => {
        response.writeHead(200);
        response.end(JSON.stringify({ pass: true, reason: "x".repeat(200 * 1024) }));
      },
    ]);

    await expect(call(server.url)).rejects.toThrow("answered more than 64 KiB");
  });

  it("stops at the hook's time, retries included", async () => {
    const server = await hookServer([() => undefined]);

    await expect(call(server.url, { timeoutMs: 300 })).rejects.toThrow("did not answer within 0.3 s");
  });

  it("fails a hook that cannot be reached", async () => {
    const server = await hookServer([json({ pass: true })]);
    const url = server.url;
    await new Promise((resolve) => servers.splice(0)[0]?.close(resolve));

    await expect(call(url, { attempts: 2 })).rejects.toThrow("could not be reached");
  });

  it("signs exactly the bytes it sends", () => {
    expect(hookSignature('{"a":1}', "secret")).toBe(
      `sha256=${createHmac("sha256", "secret").update('{"a":1}').digest("hex")}`,
    );
  });
});
