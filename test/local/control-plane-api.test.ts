// The local control plane's admin API over real HTTP (what `modelship status|rollback|promote|abort --local`
// and `modelship run` beside it use), and how a control plane announces itself in its home: a real control
// plane on a temp home and any free port. Rollouts here fail in Prepare, so no model server is needed.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, ControlPlaneRunning, startControlPlane } from "../../lib/local/control-plane";
import type { JournalEntry } from "../../lib/local/execution-journal";
import type { OpenAiErrorBody } from "../../lib/local/llama-server/openai-error";
import type { StartOutcome } from "../../lib/pipeline/start";
import { adminFetch } from "../support/admin-fetch";

let work: string;
let controlPlane: ControlPlane;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-control-plane-api-"));
  controlPlane = await startControlPlane({
    home: join(work, "home"),
    timeFactor: 0,
    port: 0,
    watchBucket: false,
    log: () => {},
  });
});

afterAll(async () => {
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return adminFetch(controlPlane.url, controlPlane.home, path, init);
}

function post(path: string, body: unknown): Promise<Response> {
  return api(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function errorOf(response: Response): Promise<string> {
  return ((await response.json()) as OpenAiErrorBody).error.message;
}

/** Writes a manifest into the control plane's bucket, as an upload would. */
async function putManifest(model: string, version: string, text: string): Promise<string> {
  const folder = join(controlPlane.home, "bucket", "models", model, version);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "modelship.yaml"), text);
  return `models/${model}/${version}/modelship.yaml`;
}

describe("The local control plane's admin API", () => {
  it("shows no models for a home where nothing was rolled out", async () => {
    const all = await api("status");
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ models: [] });
    expect(await (await api("status?model=tiny")).json()).toEqual({ models: [] });
  });

  it("refuses an unknown command with 400, naming the commands it takes", async () => {
    const response = await post("commands", { command: "Delete Everything", model: "tiny" });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      status: "rejected",
      message:
        'The command must be one of "Rollback Requested", "Abort Requested", "Promote Requested", "Approve Requested", "Reject Requested", found "Delete Everything".',
    });
  });

  it("refuses a command for something that is not a model name, saying which field and what it expects", async () => {
    const response = await post("commands", { command: "Rollback Requested", model: "Tiny_Llama" });

    expect(response.status).toBe(400);
    const outcome = (await response.json()) as { status: string; findings: { path: string }[] };
    expect(outcome.status).toBe("rejected");
    expect(outcome.findings.map((f) => f.path)).toEqual(["detail.model"]);
  });

  it("refuses a rollback or an abort of a model it has never rolled out, rather than calling it nothing to do", async () => {
    for (const command of ["Rollback Requested", "Abort Requested"]) {
      const response = await post("commands", { command, model: "tiny", reason: "testing" });

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        command,
        model: "tiny",
        status: "refused",
        message: "No model named tiny has been rolled out: modelship knows no model yet.",
      });
    }
  });

  it("refuses a command body that is not JSON", async () => {
    const response = await post("commands", "rollback tiny");

    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatch(/^The command is not valid JSON/);
  });

  it("refuses an upload without a key, saying what to send", async () => {
    const response = await post("uploads", { manifest: "models/tiny/v1/modelship.yaml" });

    expect(response.status).toBe(400);
    expect(await errorOf(response)).toBe(
      'The upload needs {"key": "models/<name>/<version>/modelship.yaml"}: the manifest\'s key in the local bucket.',
    );
  });

  it("refuses an upload whose key is not a manifest key, without touching anything outside the bucket", async () => {
    for (const key of ["../../control-plane.json", "models/tiny/../../../etc/modelship.yaml"]) {
      const response = await post("uploads", { key });

      expect(response.status).toBe(400);
      expect(await errorOf(response)).toContain(
        `The upload's key cannot start a rollout: expected a manifest key models/<name>/<version>/modelship.yaml (or .yml, .json), found '${key}'.`,
      );
    }
    const badVersion = await post("uploads", { key: "models/tiny/../modelship.yaml" });
    expect(badVersion.status).toBe(400);
    expect(await errorOf(badVersion)).toContain("version '..' is not valid");
  });

  it("rejects an upload of a manifest that is not in the local bucket, and starts nothing", async () => {
    const response = await post("uploads", { key: "models/tiny/v9/modelship.yaml" });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      status: "rejected",
      reason: `Nothing was started: models/tiny/v9/modelship.yaml is not in the local bucket (${join(controlPlane.home, "bucket")}).`,
      findings: [],
    });
    expect(controlPlane.runtime.executions.list()).toEqual([]);
  });

  it("starts the rollout of an uploaded manifest once, and streams its execution as NDJSON until the result", async () => {
    const key = await putManifest("tiny", "v1", "name: tiny\nversion: v1\nservng: {}\n");

    const started = (await (await post("uploads", { key })).json()) as StartOutcome;
    const again = (await (await post("uploads", { key })).json()) as StartOutcome;

    expect(started).toMatchObject({
      status: "started",
      executionId: expect.stringMatching(/^local:tiny-v1-/),
    });
    if (started.status === "rejected") throw new Error(started.reason);
    expect(again).toMatchObject({ status: "duplicate", executionId: started.executionId });
    const followed = await api(`executions/${encodeURIComponent(started.executionId)}`);
    expect(followed.status).toBe(200);
    expect(followed.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const entries = (await followed.text())
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as JournalEntry);
    const states = entries.flatMap((e) =>
      "transition" in e && e.transition.type === "entered" ? [e.transition.state] : [],
    );
    expect(states).toEqual(["Prepare", "Cleanup", "RolloutFailed"]);
    const last = entries.at(-1);
    expect(last && "result" in last && last.result).toMatchObject({
      status: "FAILED",
      error: { Error: "ManifestInvalid" },
    });
    expect(controlPlane.runtime.executions.list().map((e) => e.executionId)).toEqual([started.executionId]);
  });

  it("answers 404 for an execution it has not run", async () => {
    const response = await api("executions/local%3Atiny-v7-00000000");

    expect(response.status).toBe(404);
    expect(await errorOf(response)).toBe(
      "This control plane has not run an execution local:tiny-v7-00000000.",
    );
  });

  it.each([
    ["POST", "status", "/_modelship/status answers GET, not POST."],
    ["GET", "commands", "/_modelship/commands answers POST, not GET."],
    ["PUT", "uploads", "/_modelship/uploads answers POST, not PUT."],
    [
      "DELETE",
      "executions/local:tiny-v1-00000000",
      "/_modelship/executions/local:tiny-v1-00000000 answers GET, not DELETE.",
    ],
  ])("answers 405 to %s %s, saying which method it takes", async (method, path, message) => {
    const response = await api(path, { method });

    expect(response.status).toBe(405);
    expect(await errorOf(response)).toBe(message);
  });

  it("refuses a request addressed to a host name other than this machine's (a DNS name rebound to 127.0.0.1)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const sent = request(
        `${controlPlane.url}/_modelship/commands`,
        {
          method: "POST",
          headers: { host: "attacker.example", "content-type": "application/json" },
          agent: false,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      sent.on("error", reject);
      sent.end(JSON.stringify({ command: "Rollback Requested", model: "tiny" }));
    });

    expect(status).toBe(403);
    expect((await api("status", { headers: { host: `localhost:${controlPlane.port}` } })).status).toBe(200);
  });
});

describe("startControlPlane", () => {
  it("refuses a second control plane for the same home, naming the one that runs", async () => {
    const second = startControlPlane({ home: controlPlane.home, timeFactor: 0, port: 0, log: () => {} });

    await expect(second).rejects.toThrow(ControlPlaneRunning);
    await expect(second).rejects.toThrow(
      `A control plane already runs for ${controlPlane.home} (pid ${process.pid}, started `,
    );
    await expect(second).rejects.toThrow(
      `gateway http://127.0.0.1:${controlPlane.port}). Use it, or stop it first.`,
    );
  });

  it("announces itself in control-plane.json while it runs, and removes the file when it stops", async () => {
    const home = join(work, "announced");
    const file = join(home, "control-plane.json");
    const own = await startControlPlane({ home, timeFactor: 0, port: 0, watchBucket: false, log: () => {} });
    try {
      const announced = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
      expect(announced).toEqual({ pid: process.pid, gatewayPort: own.port, startedAt: expect.any(String) });
      expect(Number.isNaN(Date.parse(announced["startedAt"] as string))).toBe(false);
    } finally {
      await own.close();
    }

    expect(existsSync(file)).toBe(false);
  });

  it("starts over a control-plane.json left behind by one that crashed", async () => {
    const home = join(work, "crashed");
    await mkdir(home);
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(
      join(home, "control-plane.json"),
      JSON.stringify({ pid: deadPid, gatewayPort: 1, startedAt: "2025-01-01T00:00:00.000Z" }),
    );

    const restarted = await startControlPlane({
      home,
      timeFactor: 0,
      port: 0,
      watchBucket: false,
      log: () => {},
    });
    try {
      const announced = JSON.parse(await readFile(join(home, "control-plane.json"), "utf8")) as {
        pid: number;
      };
      expect(announced.pid).toBe(process.pid);
    } finally {
      await restarted.close();
    }
  });
});

describe("Who may use the local control plane's admin API", () => {
  const lockHolder = { rolloutId: "guarded-v2-0a1b2c3d", version: "v2", since: new Date().toISOString() };
  const abort = JSON.stringify({ command: "Abort Requested", model: "guarded", reason: "csrf" });
  /** A request as a web page would send it: no secret, a cross-site origin, a body that needs no preflight. */
  const fromAWebPage = (headers: Record<string, string> = {}) => ({
    method: "POST",
    headers: {
      origin: "http://evil.example",
      "content-type": "text/plain",
      "sec-fetch-site": "cross-site",
      ...headers,
    },
    body: abort,
  });

  it("refuses a cross-site request even when it somehow carries the secret, a request without the secret, and a body that is not JSON — and acts on none", async () => {
    const { store } = controlPlane.runtime.deps;
    await store.acquireLock("guarded", lockHolder);
    const secret = (await readFile(join(controlPlane.home, "admin-token"), "utf8")).trim();
    const auth = { authorization: `Bearer ${secret}` };

    const csrf = await fetch(`${controlPlane.url}/_modelship/commands`, fromAWebPage());
    expect(csrf.status).toBe(403);
    expect(await errorOf(csrf)).toBe(
      "The admin API answers requests from its own origin only, not from http://evil.example.",
    );
    const marked = await fetch(`${controlPlane.url}/_modelship/commands`, {
      ...fromAWebPage({ ...auth, "content-type": "application/json" }),
      headers: { ...auth, "content-type": "application/json", "sec-fetch-site": "same-site" },
    });
    expect(marked.status).toBe(403);
    const noSecret = await fetch(`${controlPlane.url}/_modelship/commands`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: abort,
    });
    expect(noSecret.status).toBe(401);
    expect(await errorOf(noSecret)).toMatch(/needs the control plane's secret/);
    const wrongSecret = await fetch(`${controlPlane.url}/_modelship/status`, {
      headers: { authorization: `Bearer ${secret.slice(0, -1)}x` },
    });
    expect(wrongSecret.status).toBe(401);
    const plainText = await api("commands", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: abort,
    });
    expect(plainText.status).toBe(415);

    const record = await store.get("guarded");
    expect(record?.lock?.rolloutId).toBe(lockHolder.rolloutId);
    expect(record?.history).toEqual([]);
  });

  it("takes who asked from the secret it authenticated, never from the body", async () => {
    const { store } = controlPlane.runtime.deps;
    await store.acquireLock("guarded", lockHolder);
    const forged = await post("commands", {
      command: "Abort Requested",
      model: "guarded",
      requestedBy: "someone else",
    });
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({
      status: "rejected",
      message: expect.stringMatching(/leave requestedBy out/),
    });
    expect((await store.get("guarded"))?.lock?.rolloutId).toBe(lockHolder.rolloutId);

    const sameOrigin = await api("commands", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: controlPlane.url,
        "sec-fetch-site": "same-origin",
      },
      body: abort,
    });
    expect(sameOrigin.status).toBe(200);
    expect(await sameOrigin.json()).toMatchObject({ status: "done" });
    const record = await store.get("guarded");
    expect(record?.lock).toBeUndefined();
    expect(record?.history.at(-1)?.reason).toContain(
      `an abort was requested by ${userInfo().username} (local admin API) (csrf)`,
    );
  });

  it("keeps its secret in the home, readable by its owner only, and makes a new one at each start", async () => {
    const path = join(controlPlane.home, "admin-token");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const other = await startControlPlane({
      home: join(work, "second-home"),
      timeFactor: 0,
      port: 0,
      watchBucket: false,
      log: () => {},
    });
    try {
      const first = await readFile(join(other.home, "admin-token"), "utf8");
      await other.close();
      const again = await startControlPlane({
        home: other.home,
        timeFactor: 0,
        port: 0,
        watchBucket: false,
        log: () => {},
      });
      await again.close();
      expect(await readFile(join(other.home, "admin-token"), "utf8")).not.toBe(first);
    } finally {
      await other.close();
    }
  });
});
