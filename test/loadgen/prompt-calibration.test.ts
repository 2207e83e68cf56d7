// `--input-tokens N` against a server with a tokenizer of its own (one token per character plus a chat
// template, like a byte-level vocabulary): the prompts are calibrated to the server's count, the profile is
// checked against the context the server reports, and what cannot be calibrated or fitted is said plainly.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/bench";
import { summarizeLoad } from "../../lib/loadgen/load-summary";
import { parseLoadResult } from "../../lib/loadgen/load-result";
import { captureStreams } from "../support/console-capture";
import { type Reply, type ServerOptions, StreamingServer } from "./streaming-server";

let server: StreamingServer | undefined;
let stdout: string[];
let stderr: string[];

beforeEach(() => {
  ({ stdout, stderr } = captureStreams());
});

afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
});

/** Usage without `prompt`: the server reports what its tokenizer counted. */
const COUNTED: Reply = { kind: "stream", ttftMs: 0, gapMs: 0, chunks: 2, usage: { completion: 2 } };

async function serve(options: ServerOptions = {}, reply: (index: number) => Reply = () => COUNTED) {
  server = await StreamingServer.start(reply, options);
  return server;
}

/** The load's requests: chat completions asking for more than the one token a counting probe asks for. */
function loadBodies(s: StreamingServer): Record<string, unknown>[] {
  return s.bodies.filter((body) => body["max_tokens"] !== 1);
}

function withinFivePercent(counted: number, asked: number): boolean {
  return Math.abs(counted - asked) <= 0.05 * asked;
}

describe("modelship bench --input-tokens", () => {
  it.each([24, 37, 64, 200, 512])(
    "sends prompts of %i tokens, within 5 per cent as the server counts them, calibrated through its /tokenize",
    async (tokens) => {
      const s = await serve();
      const code = await run([
        s.baseUrl,
        "--model",
        "tiny",
        "--input-tokens",
        String(tokens),
        "--requests",
        "20",
      ]);
      expect(code).toBe(0);
      const sent = loadBodies(s).map((body) => s.promptTokens(body));
      expect(sent).toHaveLength(20);
      for (const counted of sent) expect(withinFivePercent(counted, tokens)).toBe(true);
      // Counting went through /tokenize: no chat completion was spent on it.
      expect(s.bodies).toHaveLength(20);
      expect(s.tokenizeBodies.length).toBeGreaterThan(20);
      expect(stdout.join("\n")).toMatch(
        /prompts calibrated to the server's count \(its \/tokenize, \d+ requests\)/,
      );
    },
  );

  it("keeps every length of a spread within 5% of what it drew, as the server counts them", async () => {
    const s = await serve();
    const args = [
      s.baseUrl,
      "--model",
      "tiny",
      "--input-tokens",
      "100",
      "--input-spread",
      "0.3",
      "--requests",
      "40",
    ];
    expect(await run([...args, "--json"])).toBe(0);
    const sent = loadBodies(s).map((body) => s.promptTokens(body));
    expect(Math.min(...sent)).toBeGreaterThanOrEqual(Math.floor(70 * 0.95));
    expect(Math.max(...sent)).toBeLessThanOrEqual(Math.ceil(130 * 1.05));
    expect(new Set(sent).size).toBeGreaterThan(10);
  });

  it("counts with one-token chat completions' usage.prompt_tokens when the server has no /tokenize", async () => {
    const s = await serve({ tokenizeRoute: false });
    expect(
      await run([s.baseUrl, "--model", "tiny", "--input-tokens", "48", "--requests", "10", "--json"]),
    ).toBe(0);
    const probes = s.bodies.filter((body) => body["max_tokens"] === 1);
    expect(probes.length).toBeGreaterThan(30);
    for (const probe of probes) expect(probe["stream_options"]).toEqual({ include_usage: true });
    const sent = loadBodies(s).map((body) => s.promptTokens(body));
    expect(sent).toHaveLength(10);
    for (const counted of sent) expect(withinFivePercent(counted, 48)).toBe(true);
    const report = JSON.parse(stdout.join("\n")) as {
      prompts: { calibrated: boolean; calibration: unknown };
    };
    expect(report.prompts).toMatchObject({
      calibrated: true,
      calibration: { source: "usage", check: { counted: 48 } },
    });
    const summary = summarizeLoad(
      parseLoadResult((report as unknown as { result: unknown }).result, "result"),
    );
    expect(summary.inputTokens / summary.completed).toBe(48);
  });

  it("says plainly that the lengths are uncalibrated estimates when the server counts no tokens", async () => {
    const s = await serve({ tokenizeRoute: false }, () => ({ ...COUNTED, usage: undefined }));
    expect(await run([s.baseUrl, "--model", "tiny", "--input-tokens", "40", "--requests", "3"])).toBe(0);
    expect(stderr.join("\n")).toContain(
      "⚠ prompt lengths are uncalibrated estimates (a word taken for a token): the server counts no prompt tokens: " +
        "it has no chat /tokenize (POST /tokenize answered HTTP 404), and a one-token chat completion answered without usage.prompt_tokens.",
    );
    const out = stdout.join("\n");
    expect(out).toContain("prompts ≈40 tokens");
    expect(out).toContain("prompt lengths are estimates (a word taken for a token)");
    // The old rule: one word each.
    for (const body of loadBodies(s)) {
      expect((body["messages"] as { content: string }[])[0]?.content.split(" ")).toHaveLength(40);
    }
  });

  it("says so, and does not calibrate, when the server's counts do not follow the prompt", async () => {
    const s = await serve({ tokenizeRoute: false }, () => ({
      ...COUNTED,
      usage: { prompt: 20, completion: 2 },
    }));
    expect(await run([s.baseUrl, "--model", "tiny", "--input-tokens", "40", "--requests", "3"])).toBe(0);
    expect(stderr.join("\n")).toContain(
      "the server counts 20 tokens for a one-word prompt and no more for two words (usage.prompt_tokens does not follow the prompt)",
    );
  });

  it("refuses up front, with the numbers, a profile that cannot fit the context the server lists, and sends nothing", async () => {
    const s = await serve({ maxModelLen: 256 });
    expect(await run([s.baseUrl, "--model", "tiny", "--requests", "3"])).toBe(1);
    expect(stderr.join("\n")).toContain(
      "Prompts of up to 512 tokens with answers of up to 128 need 640 tokens of context, but the server serves tiny with a context of 256 tokens " +
        "(max_model_len in GET /v1/models): every request would fail. Lower --input-tokens to at most 128 (with --output-tokens 128), or lower --output-tokens.",
    );
    expect(s.bodies).toHaveLength(0);
    expect(s.tokenizeBodies).toHaveLength(0);
  });

  it("takes the context of a llama.cpp server from /props, and counts a spread's longest prompt", async () => {
    const s = await serve({ slotContext: 300 });
    const args = [
      s.baseUrl,
      "--model",
      "tiny",
      "--input-tokens",
      "200",
      "--input-spread",
      "0.5",
      "--output-tokens",
      "16",
    ];
    expect(await run([...args, "--requests", "3"])).toBe(1);
    expect(stderr.join("\n")).toContain(
      "Prompts of up to 300 tokens with answers of up to 16 need 316 tokens of context, but the server serves tiny with a context of 300 tokens " +
        "(default_generation_settings.n_ctx in GET /props): every request would fail. Lower --input-tokens to at most 189 " +
        "(with --output-tokens 16 and --input-spread 0.5), or lower --output-tokens.",
    );
  });

  it("refuses answers as long as the context, whatever the prompts, a prompt file's too", async () => {
    const s = await serve({ maxModelLen: 64 });
    expect(await run([s.baseUrl, "--model", "tiny", "--output-tokens", "64", "--requests", "1"])).toBe(1);
    expect(stderr.join("\n")).toContain("--output-tokens 64 alone leaves no room for a prompt");
  });

  it("refuses prompts shorter than the server's chat template and one word, with the shortest it can send", async () => {
    const s = await serve();
    expect(await run([s.baseUrl, "--model", "tiny", "--input-tokens", "10", "--requests", "3"])).toBe(1);
    expect(stderr.join("\n")).toContain(
      "The shortest prompt this server can be sent is 14 tokens as it counts them (its chat template and one word), " +
        "but --input-tokens 10 asks for 10. Raise --input-tokens to at least 14.",
    );
    expect(s.bodies).toHaveLength(0);
  });

  it("runs, and says the profile was not checked, when the server reports no context", async () => {
    const s = await serve();
    expect(await run([s.baseUrl, "--model", "tiny", "--input-tokens", "30", "--requests", "2"])).toBe(0);
    expect(stderr.join("\n")).toContain(
      "⚠ the server reports no context size (no max_model_len in /v1/models, no /props): the profile was not checked against it.",
    );
    expect(stdout.join("\n")).toContain("context not reported");
  });

  it("keeps a server's long error message whole up to a word, with an ellipsis, never half a word", async () => {
    const message = `The prompt is 2299 tokens, and this server's context is 256 tokens, ${"which must also hold at least one generated token. ".repeat(6)}`;
    const s = await serve({}, () => ({ kind: "status", status: 400, message }));
    expect(await run([s.baseUrl, "--model", "tiny", "--input-tokens", "30", "--requests", "2"])).toBe(1);
    const line =
      stdout
        .join("\n")
        .split("\n")
        .find((l) => l.trim().startsWith("http_400:")) ?? "";
    const detail = line.trim().slice("http_400: ".length);
    expect(detail.length).toBeLessThanOrEqual(200);
    expect(detail).toMatch(/ [a-z.]+…$/);
    expect(message.startsWith(detail.slice(0, -1))).toBe(true);
    expect(message[detail.length - 1]).toBe(" ");
  });
});
