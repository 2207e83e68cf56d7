// The local gateway's admin API (`/_modelship/` on the gateway's port) and `modelship fault`, which finds
// the running control plane through `<home>/control-plane.json` and calls that API. The control plane here
// is this test process with a gateway it opened.

import { existsSync } from "node:fs";
import { request } from "node:http";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run as fault } from "../../lib/cli/fault";
import { createAdminSecret } from "../../lib/local/admin-auth";
import { removeControlPlaneFile, writeControlPlaneFile } from "../../lib/local/control-plane-file";
import type { OpenAiErrorBody } from "../../lib/local/llama-server/openai-error";
import type { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { adminFetch } from "../support/admin-fetch";
import { gatewayBench } from "./gateway-bench";

const { gateways, ...bench } = gatewayBench("modelship-gateway-admin-");

afterEach(() => {
  vi.restoreAllMocks();
});

/** A control plane's home with a gateway serving `chat`: stable v1, candidate v2 at weight 0. */
async function controlPlane() {
  const home = await bench.home();
  const stable = await bench.upstream("stable");
  const candidate = await bench.upstream("candidate");
  const adminSecret = await createAdminSecret(home);
  const gateway = await bench.openGateway({ home, adminSecret });
  await gateway.register("chat", stable.handle("chat", "v1"));
  await gateway.promote("chat", "v1");
  await gateway.register("chat", candidate.handle("chat", "v2"));
  await writeControlPlaneFile(home, {
    pid: process.pid,
    gatewayPort: gateway.port,
    startedAt: new Date().toISOString(),
  });
  homes.set(gateway, home);
  return { home, gateway };
}

const homes = new Map<LocalGateway, string>();

function admin(gateway: LocalGateway, path: string, init: RequestInit = {}) {
  return adminFetch(gateway.url, homes.get(gateway) ?? "", path, init);
}

/** Runs `modelship fault …` and returns its exit code and what it printed. */
async function runFault(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => void err.push(line));
  const code = await fault(argv);
  vi.restoreAllMocks();
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("The gateway's admin API", () => {
  it("lists every route with its backends, weights and faults", async () => {
    const { gateway } = await controlPlane();
    await gateway.setFault("chat", "candidate", { abort: { httpStatus: 503, percentage: 10 } });
    const response = await admin(gateway, "routes");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      routes: [
        {
          model: "chat",
          backends: [
            { variant: "stable", version: "v1", weight: 100 },
            { variant: "candidate", version: "v2", weight: 0 },
          ],
          faults: { candidate: { abort: { httpStatus: 503, percentage: 10 } } },
        },
      ],
    });
    expect(await (await admin(gateway, "routes/chat")).json()).toMatchObject({ model: "chat", faults: {} });
    expect((await admin(gateway, "routes/nope")).status).toBe(404);
  });

  it("sets a variant's fault with PUT and clears it with DELETE", async () => {
    const { gateway } = await controlPlane();
    const put = await admin(gateway, "faults/chat/candidate", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ delay: { fixedDelayMs: 800, percentage: 50 } }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({
      model: "chat",
      variant: "candidate",
      fault: { delay: { fixedDelayMs: 800, percentage: 50 } },
      description: "delay 800 ms on 50% of requests",
      version: "v2",
    });
    expect(gateway.faultOf("chat", "candidate")).toEqual({ delay: { fixedDelayMs: 800, percentage: 50 } });

    const deleted = await admin(gateway, "faults/chat/candidate", { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ fault: null, description: "no fault" });
    expect(gateway.faultOf("chat", "candidate")).toBeUndefined();
    expect((await admin(gateway, "faults/chat/candidate", { method: "DELETE" })).status).toBe(200);
  });

  it("refuses a bad fault with every problem in it", async () => {
    const { gateway } = await controlPlane();
    const response = await admin(gateway, "faults/chat/stable", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        delay: { fixedDelay: "5s" },
        abort: { httpStatus: 200, percentage: 140 },
        retry: 1,
      }),
    });
    expect(response.status).toBe(400);
    const { message } = ((await response.json()) as OpenAiErrorBody).error;
    expect(message).toContain("unknown field 'retry'");
    expect(message).toContain("delay: unknown field 'fixedDelay'");
    expect(message).toContain("delay.fixedDelayMs: expected milliseconds");
    expect(message).toContain("abort.httpStatus: expected an HTTP error status from 400 to 599, got 200");
    expect(message).toContain("abort.percentage: expected a number from 0 to 100, got 140");
    expect(gateway.faultOf("chat", "stable")).toBeUndefined();
  });

  it("answers 404 for an unknown model or path, 400 for an unknown variant and 405 for a wrong method", async () => {
    const { gateway } = await controlPlane();
    const unknownModel = await admin(gateway, "faults/llama/stable", { method: "DELETE" });
    expect(unknownModel.status).toBe(404);
    expect(((await unknownModel.json()) as OpenAiErrorBody).error.message).toBe(
      "The gateway has no route for 'llama'. Models served: chat.",
    );
    expect((await admin(gateway, "faults/chat/canary", { method: "DELETE" })).status).toBe(400);
    expect((await admin(gateway, "weights")).status).toBe(404);
    expect((await admin(gateway, "routes", { method: "POST" })).status).toBe(405);
  });
  it("refuses requests addressed to another host name (a DNS name rebound to 127.0.0.1)", async () => {
    const { gateway } = await controlPlane();
    const answer = await new Promise<number>((resolve, reject) => {
      const sent = request(
        `${gateway.url}/_modelship/faults/chat/stable`,
        { method: "DELETE", headers: { host: "attacker.example:80" }, agent: false },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      sent.on("error", reject);
      sent.end();
    });
    expect(answer).toBe(403);
    expect((await admin(gateway, "routes", { headers: { host: `localhost:${gateway.port}` } })).status).toBe(
      200,
    );
  });
});

describe("Who may change the gateway through its admin API", () => {
  it("sets a fault only for a same-origin request with the home's secret and a JSON body", async () => {
    const { gateway } = await controlPlane();
    const fault = JSON.stringify({ abort: { httpStatus: 500, percentage: 100 } });
    const tries: [RequestInit, number][] = [
      [{ method: "PUT", headers: { "content-type": "application/json" }, body: fault }, 401],
      [
        {
          method: "PUT",
          headers: {
            origin: "http://evil.example",
            "sec-fetch-site": "cross-site",
            "content-type": "text/plain",
          },
          body: fault,
        },
        403,
      ],
    ];
    for (const [init, status] of tries) {
      expect((await fetch(`${gateway.url}/_modelship/faults/chat/stable`, init)).status).toBe(status);
    }
    const notJson = await admin(gateway, "faults/chat/stable", {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: fault,
    });
    expect(notJson.status).toBe(415);
    expect(gateway.faultOf("chat", "stable")).toBeUndefined();
  });
});

describe("modelship fault", () => {
  it("sets a delay on part of a variant's requests through the running control plane", async () => {
    const { home, gateway } = await controlPlane();
    const result = await runFault([
      "chat",
      "--variant",
      "candidate",
      "--delay",
      "800ms",
      "--percent",
      "50",
      "--home",
      home,
    ]);
    expect(result).toMatchObject({ code: 0, out: "✔ chat candidate (v2): delay 800 ms on 50% of requests." });
    expect(gateway.faultOf("chat", "candidate")).toEqual({ delay: { fixedDelayMs: 800, percentage: 50 } });
  });

  it("sets an abort and a delay together, on every request by default, replacing the fault before", async () => {
    const { home, gateway } = await controlPlane();
    await gateway.setFault("chat", "stable", { delay: { fixedDelayMs: 1, percentage: 1 } });
    const result = await runFault([
      "chat",
      "--variant",
      "stable",
      "--abort",
      "503",
      "--delay",
      "0.02s",
      "--home",
      home,
    ]);
    expect(result.code).toBe(0);
    expect(gateway.faultOf("chat", "stable")).toEqual({
      delay: { fixedDelayMs: 20, percentage: 100 },
      abort: { httpStatus: 503, percentage: 100 },
    });
    const answer = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      body: '{"model":"chat"}',
    });
    expect(answer.status).toBe(503);
  });

  it("sets a server delay on long prompts, passed on to the model's server", async () => {
    const { home, gateway } = await controlPlane();
    const result = await runFault([
      "chat",
      "--variant",
      "candidate",
      "--server-delay",
      "1.5s",
      "--min-prompt-tokens",
      "100",
      "--home",
      home,
    ]);
    expect(result).toMatchObject({
      code: 0,
      out: "✔ chat candidate (v2): server delay 1500 ms on prompts of 100+ tokens, 100% of requests.",
    });
    expect(gateway.faultOf("chat", "candidate")).toEqual({
      serverDelay: { fixedDelayMs: 1500, minPromptTokens: 100, percentage: 100 },
    });
  });

  it("clears a fault", async () => {
    const { home, gateway } = await controlPlane();
    await gateway.setFault("chat", "candidate", { abort: { httpStatus: 500, percentage: 100 } });
    const result = await runFault(["chat", "--variant", "candidate", "--clear", "--home", home]);
    expect(result).toMatchObject({ code: 0, out: "✔ chat candidate (v2): fault cleared." });
    expect(gateway.faultOf("chat", "candidate")).toBeUndefined();
  });

  it("says the model is unknown, naming the models served (exit 1)", async () => {
    const { home } = await controlPlane();
    const result = await runFault(["llama", "--variant", "candidate", "--abort", "500", "--home", home]);
    expect(result).toMatchObject({
      code: 1,
      err: "✖ The gateway has no route for 'llama'. Models served: chat.",
    });
  });

  it("says no control plane runs when there is no control-plane.json, or its process is gone (exit 1)", async () => {
    const home = await bench.home("empty-");
    const none = await runFault(["chat", "--variant", "candidate", "--abort", "500", "--home", home]);
    expect(none.code).toBe(1);
    expect(none.err).toContain("No local control plane is running");
    expect(none.err).toContain("modelship local");

    const deadPid = 2 ** 22 + 12345;
    await writeControlPlaneFile(home, {
      pid: deadPid,
      gatewayPort: 9,
      startedAt: "2026-01-01T00:00:00.000Z",
    });
    const gone = await runFault(["chat", "--variant", "candidate", "--abort", "500", "--home", home]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(`(pid ${deadPid}, started 2026-01-01T00:00:00.000Z) is no longer running`);

    await writeFile(join(home, "control-plane.json"), '{"pid": "x"}');
    const garbled = await runFault(["chat", "--variant", "candidate", "--abort", "500", "--home", home]);
    expect(garbled.code).toBe(1);
    expect(garbled.err).toContain("is not a control plane file");
  });

  it("says when the control plane's process lives but nothing answers on its port (exit 1)", async () => {
    const { home, gateway } = await controlPlane();
    const port = gateway.port;
    await gateways.splice(0)[0]?.close();
    const result = await runFault(["chat", "--variant", "candidate", "--abort", "500", "--home", home]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`does not answer on 127.0.0.1:${port}`);
  });

  it.each([
    [["chat", "--delay", "1s"], "--variant must be candidate or stable"],
    [["chat", "--variant", "canary", "--delay", "1s"], "--variant must be candidate or stable, not 'canary'"],
    [["--variant", "stable", "--delay", "1s"], "give exactly one model name"],
    [["chat", "--variant", "stable"], "give --delay, --abort, --server-delay (or several), or --clear"],
    [
      ["chat", "--variant", "stable", "--delay", "800"],
      "--delay must be a duration like 800ms or 2s, not '800'",
    ],
    [
      ["chat", "--variant", "stable", "--abort", "200"],
      "--abort must be an HTTP error status from 400 to 599",
    ],
    [
      ["chat", "--variant", "stable", "--abort", "500", "--percent", "150"],
      "--percent must be a number from 0 to 100",
    ],
    [["chat", "--variant", "stable", "--clear", "--abort", "500"], "--clear removes the fault"],
    [
      ["chat", "--variant", "stable", "--server-delay", "1s"],
      "--server-delay and --min-prompt-tokens go together",
    ],
    [
      ["chat", "--variant", "stable", "--server-delay", "soon", "--min-prompt-tokens", "5"],
      "--server-delay must be a duration like 800ms or 2s, not 'soon'",
    ],
    [
      ["chat", "--variant", "stable", "--server-delay", "1s", "--min-prompt-tokens", "many"],
      "--min-prompt-tokens must be a whole number of tokens, not 'many'",
    ],
    [["chat", "--variant", "stable", "--bogus"], "unknown flag --bogus; the flags are"],
  ])("refuses %j as a usage error (exit 2)", async (argv, message) => {
    const result = await runFault(argv);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err).toContain("Usage: modelship fault");
  });
});

describe("control-plane.json", () => {
  it("is removed by the control plane that wrote it, and left alone by another", async () => {
    const home = await bench.home();
    await writeControlPlaneFile(home, {
      pid: process.pid,
      gatewayPort: 8080,
      startedAt: "2026-01-01T00:00:00.000Z",
    });
    const file = join(home, "control-plane.json");
    await removeControlPlaneFile(home, process.pid + 1);
    expect(existsSync(file)).toBe(true);
    await removeControlPlaneFile(home, process.pid);
    expect(existsSync(file)).toBe(false);
  });
});
