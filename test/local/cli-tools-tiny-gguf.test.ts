// `modelship bench` and `modelship eval` on the project's own example, for real: the README's tiny GGUF (a
// byte-level vocabulary and a ChatML template, a 256-token context) served by modelship's llama.cpp server
// behind the local gateway, as `modelship local` serves it. bench calibrates its prompts against the server's
// own usage counts, takes the context from the gateway's listing of what the server reports, and refuses what
// cannot fit with the numbers; eval tells items the server refused from wrong answers and fails a suite it
// could not evaluate. Nothing is left running.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/bench";
import { run as runEval } from "../../lib/cli/eval";
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

describe("modelship eval on the README's tiny GGUF model", () => {
  it("exits 1 saying the sanity suite could not be evaluated when the server refuses its items, not 0.0% and exit 0", async () => {
    expect(await runEval([gatewayUrl(), "--model", "tiny-gguf", "--suite", "sanity", "--json"])).toBe(1);
    const report = JSON.parse(printed.stdout.join("\n")) as { suites: Record<string, unknown>[] };
    expect(report.suites[0]).toMatchObject({ evaluated: false, unanswered: { tooMany: true } });
    const { unanswered } = report.suites[0] as {
      unanswered: { count: number; kinds: Record<string, number> };
    };
    expect(unanswered.kinds).toEqual({ "HTTP 400": unanswered.count });
    expect(printed.stderr.join("\n")).toMatch(
      /^✖ sanity could not be evaluated: \d+ of 38 items got no answer \(HTTP 400 ×\d+\), more than --max-errors 10\.0% allows\.\n {2}Hint: the server refused them \(HTTP 400\): when a prompt and its max_tokens do not fit the model's context, lower --max-tokens/,
    );
  });

  it("answers every sanity item with --max-tokens 32 and exits 0", async () => {
    expect(
      await runEval([gatewayUrl(), "--model", "tiny-gguf", "--suite", "sanity", "--max-tokens", "32"]),
    ).toBe(0);
    expect(printed.stdout.join("\n")).toMatch(/^ {2}answered 38 of 38: \d+ correct, \d+ wrong$/m);
    expect(printed.stderr).toEqual([]);
  });
});
