// `modelship mcp --local` driven by the official MCP SDK's own client over stdio, as an agent's host runs it,
// against a real local control plane with llama.cpp behind its gateway: the agent rolls v1 out from a folder,
// then v2 (which waits for approval), reads the status, rolls v2 back with a reason, and reads the timeline,
// the failure's explanation, the reports and the events — through tools and resources only.

import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { startCli } from "../support/cli-process";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import type { ControlPlane } from "../../lib/local/control-plane";
import { isRunning } from "../support/process-alive";
import { eventsOf, tinyAlarms as ALARMS, tinyControlPlane, tinyManifest } from "../support/tiny-canary";

const CLI = fileURLToPath(new URL("../../bin/modelship.mjs", import.meta.url));

let work: string;
let controlPlane: ControlPlane;
let client: Client;
let transport: StdioClientTransport;
const events: ModelshipEvent[] = [];
const logged: string[] = [];

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-mcp-e2e-", { events, logged }));
  transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", "--local", "--home", controlPlane.home],
    stderr: "pipe",
  });
  client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(transport);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

const { eventOf, until } = eventsOf(events);

async function call(name: string, args: Record<string, unknown>) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  return { isError: result.isError, structuredContent: result.structuredContent, text };
}

async function modelFolder(version: string, seed: number, rollout: string): Promise<string> {
  const folder = join(work, `tiny-${version}`);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "model.gguf"), buildTinyLlamaGguf({ seed }));
  await writeFile(join(folder, "modelship.yaml"), tinyManifest(version, rollout));
  return folder;
}

describe("modelship mcp --local, through the MCP SDK's client over stdio", () => {
  it("lists its tools, the acting ones annotated destructive and needing a model and a reason", async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const read of [
      "list_models",
      "model_status",
      "rollout_timeline",
      "explain_failure",
      "validate",
      "compare_versions",
    ]) {
      expect(byName.get(read)?.annotations?.readOnlyHint, read).toBe(true);
    }
    for (const act of ["rollback", "abort", "promote", "approve", "reject", "run_rollout"]) {
      const tool = byName.get(act);
      expect(tool?.annotations?.destructiveHint, act).toBe(true);
      expect(tool?.inputSchema.required, act).toEqual(expect.arrayContaining(["reason"]));
    }
    expect(byName.get("rollback")?.inputSchema.required).toEqual(["model", "reason"]);
  });

  it("validates a model folder with modelship's own validation, every finding named", async () => {
    const plain = join(work, "tiny");
    await mkdir(plain, { recursive: true });
    await writeFile(join(plain, "model.gguf"), buildTinyLlamaGguf({ seed: 1 }));
    const valid = await call("validate", { path: plain });
    expect(valid.isError, valid.text).toBeFalsy();
    expect(valid.text).toMatch(/tiny: valid/);
    expect(valid.structuredContent).toMatchObject({ valid: true });

    // The v1 folder's manifest names tiny v1, which its folder (tiny-v1) does not say: an upload would be refused.
    const folder = await modelFolder("v1", 1, `  watchSeconds: 2\n${ALARMS(5000)}`);
    const invalid = await call("validate", { path: folder });
    expect(invalid.isError).toBe(true);
    expect(invalid.text).toMatch(/invalid, 3 finding\(s\)/);
    expect(invalid.text).toMatch(/error name: the manifest says name 'tiny'/);
    expect(invalid.text).toMatch(/warning rollout.watchSeconds/);
  });

  it(
    "rolls v1 out from a folder on this machine, and lists it once it serves",
    { timeout: 180_000 },
    async () => {
      const started = await call("run_rollout", {
        folder: join(work, "tiny-v1"),
        reason: "first release of tiny",
      });
      expect(started.isError, started.text).toBeFalsy();
      expect(started.text).toMatch(/^Started: tiny v1, execution /);
      await until("v1", "Stage Succeeded", "Finalize");

      const listed = await call("list_models", {});
      expect(listed.text).toMatch(/^tiny: stable v1/);
    },
  );

  it(
    "shows v2 waiting for approval, rolls it back with the agent's reason, and leaves nothing of v2 running",
    { timeout: 180_000 },
    async () => {
      const folder = await modelFolder(
        "v2",
        2,
        `  steps: [50]\n  bakeSeconds: 2\n  watchSeconds: 2\n  approval: manual\n${ALARMS(5000)}`,
      );
      const started = await call("run_rollout", { folder, reason: "try v2" });
      expect(started.isError, started.text).toBeFalsy();
      await until("v2", "Approval Requested");

      const status = await call("model_status", { model: "tiny" });
      expect(status.text).toContain("approval");
      expect(status.structuredContent).toMatchObject({
        model: { model: "tiny", candidateVersion: "v2", waitingForApproval: { version: "v2" } },
      });

      const rolledBack = await call("rollback", { model: "tiny", reason: "the agent saw long answers" });
      expect(rolledBack.isError, rolledBack.text).toBeFalsy();
      const event = await until("v2", "Model Rolled Back");
      expect(event.detail.message).toContain("the agent saw long answers");

      const deployed = eventOf("v2", "Stage Succeeded", "DeployCandidate");
      const pid = (deployed?.detail.data?.["where"] as { pid?: number } | undefined)?.pid;
      await vi.waitFor(() => expect(isRunning(pid as number)).toBe(false), {
        timeout: 30_000,
        interval: 200,
      });
      const after = await controlPlane.runtime.deps.store.get("tiny");
      expect(after?.lock).toBeUndefined();
      expect(after?.stable?.version).toBe("v1");
    },
  );

  it("tells the timeline, the failure and the rollouts' reports", { timeout: 60_000 }, async () => {
    const timeline = await call("rollout_timeline", { model: "tiny" });
    expect(timeline.text).toMatch(/v2 {2}Rollback/);
    expect(timeline.text).toMatch(/reports\/tiny\/v1\//);

    const explained = await call("explain_failure", { model: "tiny" });
    expect(explained.text).toMatch(/^tiny v2 \(rollout .*\) was rolled back at /);
    expect(explained.text).toContain("the agent saw long answers");

    const { resources } = await client.listResources();
    const v1 = resources.find((r) => r.uri.startsWith("modelship://reports/tiny/v1/"));
    expect(v1, JSON.stringify(resources)).toBeDefined();
    const report = await client.readResource({ uri: v1?.uri ?? "" });
    const reportText = (report.contents[0] as { text: string }).text;
    expect(reportText).toMatch(/^Rollout .* of tiny v1/);
    expect(reportText).toMatch(/End:\n {2}Succeeded at Finalize/);

    const recent = await client.readResource({ uri: "modelship://events/recent" });
    const lines = (recent.contents[0] as { text: string }).text.split("\n").map((l) => JSON.parse(l));
    expect(lines.some((e) => e.detailType === "Model Rolled Back" && e.detail.version === "v2")).toBe(true);
  });

  it("answers bad input and what cannot be done with an error result, never a stack trace", async () => {
    const badName = await call("model_status", { model: "Not_A_Model" });
    expect(badName.isError).toBe(true);
    expect(badName.text).toMatch(/model name/);
    expect(badName.text).not.toMatch(/\n\s+at /);

    const unknown = await call("rollback", { model: "nobody", reason: "testing a typo" });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/tiny/);

    const noReports = await call("compare_versions", { model: "tiny", versions: ["v1", "v2"] });
    expect(noReports.text).toMatch(/no stress or eval report of tiny v1/);
  });
});

describe("modelship mcp --local --http: streamable HTTP on loopback with the home's secret", () => {
  it("answers a client that sends the secret, and refuses one without it or under another host name", async () => {
    const cli = startCli(["mcp", "--local", "--home", controlPlane.home, "--http"]);
    try {
      const line = await cli.waitForLine(
        /^modelship mcp: streamable HTTP at http:\/\/127\.0\.0\.1:\d+\/mcp /,
      );
      const url = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(line)?.[1] ?? "";
      const secret = (await readFile(join(controlPlane.home, "admin-token"), "utf8")).trim();

      const httpClient = new Client({ name: "http-agent", version: "1.0.0" });
      await httpClient.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { Authorization: `Bearer ${secret}` } },
        }),
      );
      const listed = (await httpClient.callTool({ name: "list_models", arguments: {} })) as CallToolResult;
      expect(listed.content[0]).toMatchObject({
        type: "text",
        text: expect.stringMatching(/^tiny: stable v1/),
      });
      await httpClient.close();

      const initialize = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
      });
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
      const anonymous = await fetch(url, { method: "POST", headers, body: initialize });
      expect(anonymous.status).toBe(401);
      // fetch sets Host itself: a DNS-rebinding page's request is made with node:http, Host as the page's.
      const rebound = await new Promise<number>((done, failed) => {
        const request = httpRequest(
          url,
          {
            method: "POST",
            headers: { ...headers, authorization: `Bearer ${secret}`, host: "evil.example" },
          },
          (response) => {
            response.resume();
            done(response.statusCode ?? 0);
          },
        );
        request.once("error", failed);
        request.end(initialize);
      });
      expect(rebound).toBe(403);
      const crossSite = await fetch(url, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer ${secret}`, origin: "http://evil.example" },
        body: initialize,
      });
      expect(crossSite.status).toBe(403);

      cli.child.kill("SIGINT");
      expect((await cli.exited).code).toBe(0);
    } finally {
      cli.child.kill("SIGKILL");
    }
  });
});
