import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/bench";
import { parseLoadResult } from "../../lib/loadgen/load-result";
import { type Reply, StreamingServer } from "./streaming-server";

let server: StreamingServer | undefined;
let dir: string;
let stdout: string[];
let stderr: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "modelship-bench-"));
  stdout = [];
  stderr = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void stdout.push(args.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void stderr.push(args.join(" ")));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function serve(replyTo: (index: number) => Reply = () => quick): Promise<string> {
  server = await StreamingServer.start(replyTo);
  return server.baseUrl;
}

const quick: Reply = { kind: "stream", ttftMs: 0, gapMs: 0, chunks: 4, usage: { prompt: 20, completion: 4 } };

describe("modelship bench", () => {
  it("prints a summary table of the latencies, throughput and tokens", async () => {
    const url = await serve();
    expect(await run([url, "--model", "tiny", "--concurrency", "2", "--requests", "10"])).toBe(0);
    const out = stdout.join("\n");
    expect(out).toContain(`modelship bench → ${url} (model tiny)`);
    expect(out).toContain("closed loop, 2 in flight · 10 requests");
    expect(out).toMatch(/requests {4}10 measured in \d+\.\d s: 10 completed, 0 failed \(0\.0%\)$/m);
    expect(out).toContain("output from the server's usage · input from usage");
    for (const label of ["TTFT", "ITL", "TPOT", "E2E", "queue"])
      expect(out).toMatch(new RegExp(`^${label} +\\d+`, "m"));
    expect(out).toMatch(/^E2E {6}\s+10 /m);
  });

  it("prints {target, profile, summary, result} with --json, the result mergeable like a worker's", async () => {
    const url = await serve();
    const code = await run([
      url,
      "--model",
      "tiny",
      "--rate",
      "40",
      "--burstiness",
      "inf",
      "--requests",
      "6",
      "--json",
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout.join("\n")) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(["target", "profile", "summary", "result"]);
    expect(report["profile"]).toMatchObject({ mode: "rate", rate: 40, burstiness: "inf", requests: 6 });
    expect(report["summary"]).toMatchObject({ completed: 6, failed: 0 });
    expect(parseLoadResult(report["result"], "--json result").counters.completed).toBe(6);
  });

  it("names the SLOs goodput counts against and marks each p95 against its SLO", async () => {
    const url = await serve((i) => (i % 2 === 0 ? quick : { ...quick, ttftMs: 300 }));
    const args = [url, "--model", "tiny", "--concurrency", "1", "--requests", "4", "--slo-ttft-p95", "250ms"];
    expect(await run(args)).toBe(0);
    const out = stdout.join("\n");
    expect(out).toContain("(TTFT ≤ 250 ms)");
    expect(out).toMatch(/^TTFT .*≤ 250 ✖$/m);
  });

  it("sends the prompts of a JSONL file", async () => {
    const url = await serve();
    const file = join(dir, "prompts.jsonl");
    await writeFile(file, `${JSON.stringify({ prompt: "What is 2+2?" })}\n`);
    expect(await run([url, "--model", "tiny", "--requests", "2", "--prompts", file])).toBe(0);
    expect(server?.bodies[0]?.["messages"]).toEqual([{ role: "user", content: "What is 2+2?" }]);
  });

  it("exits 1 naming every bad line of a prompt file, before sending anything", async () => {
    const url = await serve();
    const file = join(dir, "bad.jsonl");
    await writeFile(file, `{"prompt": "ok"}\n{"question": "?"}\nnope\n`);
    expect(await run([url, "--model", "tiny", "--requests", "2", "--prompts", file])).toBe(1);
    const err = stderr.join("\n");
    expect(err).toContain(`${file}: 2 bad line(s)`);
    expect(err).toContain("line 2: has neither `messages` nor `prompt`");
    expect(err).toContain("line 3: not JSON");
    expect(server?.bodies).toHaveLength(0);
  });

  it("exits 1 saying the endpoint is unreachable when nothing answers", async () => {
    const url = await serve();
    await server?.stop();
    server = undefined;
    expect(await run([url, "--model", "tiny", "--requests", "2"])).toBe(1);
    expect(stderr.join("\n")).toMatch(
      new RegExp(`✖ cannot reach ${url}: .*ECONNREFUSED.*Is the server running`),
    );
  });

  it("exits 1 when no request succeeded, after showing the errors", async () => {
    const url = await serve(() => ({ kind: "status", status: 404 }));
    expect(await run([url, "--model", "tiny", "--requests", "3"])).toBe(1);
    expect(stdout.join("\n")).toContain(": 0 completed, 3 failed (100.0%): http_404 ×3");
    expect(stdout.join("\n")).toContain("http_404: injected 404");
    expect(stderr.join("\n")).toContain("✖ no request succeeded");
  });

  it("warns when the server does not list the model", async () => {
    const url = await serve();
    expect(await run([url, "--model", "other", "--requests", "1"])).toBe(0);
    expect(stderr.join("\n")).toContain("⚠ the server lists 'tiny', not 'other'");
  });

  it("exits 2 with every usage problem at once", async () => {
    const code = await run([
      "localhost:8000",
      "--concurrency",
      "4",
      "--rate",
      "2",
      "--duration",
      "60",
      "--output-tokens",
      "0.5",
    ]);
    expect(code).toBe(2);
    const err = stderr.join("\n");
    expect(err).toContain("the base URL must start with http:// or https://, not 'localhost:8000'.");
    expect(err).toContain("give --model");
    expect(err).toContain("--concurrency runs a closed loop and --rate an open one");
    expect(err).toContain("--duration must be a duration like 500ms, 30s, 5m or 1h, not '60'.");
    expect(err).toContain("--output-tokens must be a whole number above 0, not '0.5'.");
  });

  it("exits 2 on an unknown flag, naming the flag it was probably meant to be", async () => {
    expect(await run(["http://127.0.0.1:1", "--model", "m", "--concurency", "4"])).toBe(2);
    expect(stderr.join("\n")).toContain(
      "modelship bench: unknown flag --concurency: did you mean --concurrency?",
    );
  });
});
