// `modelship bench` on the project's own example, for real: the README's tiny GGUF (a byte-level vocabulary
// and a ChatML template, a 256-token context) served by modelship's llama.cpp server behind the local gateway,
// as `modelship local` serves it. The prompts are calibrated against the server's own usage counts, the
// context comes from the gateway's listing of what the server reports, and what cannot fit is refused with
// the numbers. Nothing is left running.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/bench";
import type { LoadResult } from "../../lib/loadgen/load-result";
import { summarizeLoad } from "../../lib/loadgen/load-summary";
import { captureStreams, type CapturedStreams } from "../support/console-capture";
import { serveTinyGgufBehindGateway, type TinyGgufBehindGateway } from "../support/tiny-gguf-behind-gateway";

const CONTEXT = 256;

let work: string;
let served: TinyGgufBehindGateway | undefined;
let printed: CapturedStreams;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-bench-gguf-"));
  served = await serveTinyGgufBehindGateway(work, { model: "tiny-gguf", seed: 1 });
});

afterAll(async () => {
  await served?.close();
  await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  printed = captureStreams();
});

afterEach(() => {
  vi.restoreAllMocks();
});

function gatewayUrl(): string {
  return served!.gateway.url;
}

async function benchJson(...args: string[]): Promise<{ result: LoadResult; prompts: unknown }> {
  const code = await run([gatewayUrl(), "--model", "tiny-gguf", ...args, "--json"]);
  expect(code, printed.stderr.join("\n")).toBe(0);
  return JSON.parse(printed.stdout.join("\n")) as { result: LoadResult; prompts: unknown };
}

describe("modelship bench on the README's tiny GGUF model", () => {
  it("finds the model's context in the gateway's listing, as its server reports it", async () => {
    const direct = await served!.serving.endpoint(served!.handle, "probe");
    const listed = async (url: string) =>
      ((await (await fetch(url)).json()) as { data: { id: string; max_model_len?: number }[] }).data;
    expect(await listed(`${direct.baseUrl}/models`)).toEqual([
      expect.objectContaining({ id: "tiny-gguf", max_model_len: CONTEXT }),
    ]);
    expect(await listed(`${gatewayUrl()}/v1/models`)).toEqual([
      expect.objectContaining({ id: "tiny-gguf", max_model_len: CONTEXT }),
    ]);
  });

  it.each([32, 64, 160])(
    "sends --input-tokens %i as that many prompt tokens (within 5 per cent) as the server's usage counts them",
    async (tokens) => {
      const { result, prompts } = await benchJson(
        "--input-tokens",
        String(tokens),
        "--output-tokens",
        "8",
        "--concurrency",
        "1",
        "--requests",
        "8",
      );
      const summary = summarizeLoad(result);
      expect(summary.completed).toBe(8);
      expect(summary.inputTokensFrom).toEqual({ usage: 8, estimated: 0 });
      expect(Math.abs(summary.inputTokens / summary.completed - tokens)).toBeLessThanOrEqual(0.05 * tokens);
      expect(prompts).toMatchObject({ calibrated: true, calibration: { source: "usage" } });
    },
  );

  it("refuses --input-tokens 16 with the numbers: the model's chat template alone takes 20 tokens", async () => {
    expect(await run([gatewayUrl(), "--model", "tiny-gguf", "--input-tokens", "16", "--requests", "4"])).toBe(
      1,
    );
    expect(printed.stderr.join("\n")).toContain(
      "The shortest prompt this server can be sent is 21 tokens as it counts them (its chat template and one word), " +
        "but --input-tokens 16 asks for 16. Raise --input-tokens to at least 21.",
    );
  });

  it("refuses the defaults up front with the numbers, rather than failing every request", async () => {
    expect(await run([gatewayUrl(), "--model", "tiny-gguf", "--requests", "4"])).toBe(1);
    expect(printed.stderr.join("\n")).toContain(
      "Prompts of up to 512 tokens with answers of up to 128 need 640 tokens of context, but the server serves tiny-gguf " +
        "with a context of 256 tokens (max_model_len in GET /v1/models): every request would fail. " +
        "Lower --input-tokens to at most 128 (with --output-tokens 128), or lower --output-tokens.",
    );
    expect(printed.stdout).toEqual([]);
  });
});
