// The local gateway in front of a real llama.cpp server (LocalServing on a generated tiny GGUF): a streamed
// chat goes through the gateway event by event and says exactly what the server says when asked directly
// with the same seed; the request is observed as the stable version's. Nothing is left running.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { LocalServing } from "../../lib/local/local-serving";
import type { CandidateHandle, Observation } from "../../lib/ports";
import { isRunning } from "../support/process-alive";

let work: string;
let serving: LocalServing;
let gateway: LocalGateway;
let handle: CandidateHandle;
const observations: Observation[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-gateway-llama-"));
  const prefix = "models/tiny/v1/";
  await mkdir(join(work, "bucket", prefix), { recursive: true });
  await writeFile(join(work, "bucket", prefix, "model.gguf"), buildTinyLlamaGguf({ seed: 4 }));
  serving = new LocalServing({ home: join(work, ".modelship"), config: DEFAULT_STACK_CONFIG });
  handle = await serving.deploy({
    model: "tiny",
    version: "v1",
    rolloutId: "tiny-v1-0badc0de",
    servedName: "tiny",
    runtime: "llama.cpp",
    image: "ghcr.io/ggml-org/llama.cpp:server",
    gpus: 0,
    maxModelLen: 256,
    extraArgs: [],
    format: "gguf",
    weights: { bucket: join(work, "bucket"), prefix },
    weightBytes: 0,
  });
  await vi.waitFor(
    async () => {
      const status = await serving.status(handle);
      if (status.phase !== "ready") throw new Error(`still ${status.phase}: ${JSON.stringify(status)}`);
    },
    { timeout: 30_000, interval: 100 },
  );
  gateway = await LocalGateway.open({
    adminSecret: "not-used-by-these-tests",
    home: join(work, ".modelship"),
    port: 0,
    endpointOf: (h) => serving.endpoint(h, "probe"),
    record: (recorded) => observations.push(...recorded),
  });
  await gateway.register("tiny", handle);
  await gateway.promote("tiny", "v1");
});

afterAll(async () => {
  await gateway?.close();
  await serving?.stopAll();
  const pid = handle?.details?.["pid"] as number | undefined;
  if (pid) expect(isRunning(pid)).toBe(false);
  await rm(work, { recursive: true, force: true });
});

const REQUEST = {
  model: "tiny",
  messages: [{ role: "user", content: "hello" }],
  max_tokens: 12,
  temperature: 1,
  seed: 11,
  stream: true,
  stream_options: { include_usage: true },
};

describe("LocalGateway in front of the llama.cpp server", () => {
  it("streams a chat through, event for event what the server streams itself", async () => {
    const direct = await streamedEvents(
      `${(await serving.endpoint(handle, "probe")).baseUrl}/chat/completions`,
    );
    const viaGateway = await streamedEvents(`${gateway.url}/v1/chat/completions`);

    expect(viaGateway.contentType).toMatch(/^text\/event-stream/);
    expect(viaGateway.events.at(-1)).toBe("[DONE]");
    // Ids and timestamps differ per request; the seeded tokens, finish and usage do not.
    expect(viaGateway.events.map(withoutIdentity)).toEqual(direct.events.map(withoutIdentity));
    expect(viaGateway.events.length).toBeGreaterThan(3);
    expect(observations).toMatchObject([{ model: "tiny", version: "v1", variant: "stable", error: false }]);
  });
});

async function streamedEvents(url: string): Promise<{ contentType: string | null; events: string[] }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(REQUEST),
  });
  expect(response.status).toBe(200);
  const text = await response.text();
  const events = text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice("data: ".length));
  return { contentType: response.headers.get("content-type"), events };
}

function withoutIdentity(event: string): unknown {
  if (event === "[DONE]") return event;
  const { id: _id, created: _created, ...rest } = JSON.parse(event) as Record<string, unknown>;
  return rest;
}
