// The local gateway in front of a real llama.cpp server (LocalServing on a generated tiny GGUF): a streamed
// chat goes through the gateway event by event and says exactly what the server says when asked directly
// with the same seed; the server counts it in its own /metrics, which LocalServing reads. Nothing is left
// running.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText } from "../../lib/core/prometheus/prometheus-text";
import type { LocalGateway } from "../../lib/local/gateway/local-gateway";
import type { LocalServing } from "../../lib/local/local-serving";
import type { CandidateHandle } from "../../lib/ports";
import { serveTinyGgufBehindGateway, type TinyGgufBehindGateway } from "../support/tiny-gguf-behind-gateway";

let work: string;
let served: TinyGgufBehindGateway | undefined;
let serving: LocalServing;
let gateway: LocalGateway;
let handle: CandidateHandle;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-gateway-llama-"));
  served = await serveTinyGgufBehindGateway(work, { model: "tiny", seed: 4 });
  ({ serving, gateway, handle } = served);
});

afterAll(async () => {
  await served?.close();
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
  });

  it("is counted by the server's own /metrics, which LocalServing reads as the version's one pod", async () => {
    const [pod] = await serving.scrapeMetrics(handle);
    expect(pod?.pod).toBe(`server-pid-${String(handle.details?.["pid"])}`);
    const counted = parsePrometheusText(pod?.text ?? "", (name) => name === "vllm:request_success_total");
    // The two streamed chats of the test above: one straight to the server, one through the gateway.
    expect(counted.reduce((sum, sample) => sum + sample.value, 0)).toBe(2);
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
