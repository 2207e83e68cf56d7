// How fast and how cheap the load generator is, against references measured in the same run. A local
// server in a child process (the other core) answers chat completions; this process, on one core, drives it:
// 1. a short answer at once (no token-by-token streaming): requests/s of `runLoad` as a ratio to autocannon
//    and to wrk (the Debian package; skipped, saying so, when it is not installed), same connections and
//    duration — when the server saturates first, the ratios approach 1 and say so;
// 2. a long stream (many content chunks per request, no delays): the CPU this process spends per streamed
//    token in `runLoad`, as a ratio to a bare undici client reading the same streams without parsing them.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Pool } from "undici";
import { summarizeLoad } from "../lib/loadgen/load-summary";
import { runLoad } from "../lib/loadgen/run-load";

const CONNECTIONS = 16;
const SECONDS = 5;
const STREAM_CHUNKS = 256;
const STREAM_REQUESTS = 400;
const REQUEST_BODY = JSON.stringify({
  model: "bench",
  messages: [{ role: "user", content: "the of and to in is that for it as was with be by on not" }],
  max_tokens: 1,
  stream: true,
  stream_options: { include_usage: true },
});

/** Plain JavaScript for `node -e`: answers `/short/…` with a 1-token SSE answer, `/long/…` with many chunks. */
const SERVER = `
const http = require("node:http");
const chunks = Number(process.env.STREAM_CHUNKS);
const event = (data) => "data: " + JSON.stringify(data) + "\\n\\n";
const usage = (n) => event({ choices: [], usage: { prompt_tokens: 16, completion_tokens: n } });
const short = event({ choices: [{ index: 0, delta: { content: "ok" }, finish_reason: "stop" }] }) + usage(1) + "data: [DONE]\\n\\n";
const piece = event({ choices: [{ index: 0, delta: { content: " word" }, finish_reason: null }] });
const long = event({ choices: [{ index: 0, delta: { role: "assistant", content: "" } }] }) + piece.repeat(chunks) + usage(chunks) + "data: [DONE]\\n\\n";
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (req.url.startsWith("/short/")) return res.end(short);
    for (let i = 0; i < chunks; i += 16) res.write(piece.repeat(Math.min(16, chunks - i)));
    res.end(usage(chunks) + "data: [DONE]\\n\\n");
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.send(server.address().port));
`;

interface AutocannonResult {
  readonly requests: { readonly average: number };
  readonly errors: number;
  readonly non2xx: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

export async function bench(): Promise<void> {
  const { child, port } = await startServer();
  try {
    const origin = `http://127.0.0.1:${port}`;
    await requestRate(origin);
    console.log("");
    await streamCost(origin);
  } finally {
    child.kill();
  }
}

async function requestRate(origin: string): Promise<void> {
  const load = await runLoad({
    baseUrl: `${origin}/short`,
    model: "bench",
    mode: "concurrency",
    concurrency: CONNECTIONS,
    rate: 1,
    burstiness: 1,
    durationSeconds: SECONDS,
    warmupSeconds: 1,
    inputTokens: 16,
    outputTokens: 1,
  });
  const ours = summarizeLoad(load);
  if (ours.failed > 0) throw new Error(`runLoad saw ${ours.failed} failures: ${JSON.stringify(ours.errors)}`);

  const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;
  const url = `${origin}/short/v1/chat/completions`;
  const headers = { "content-type": "application/json", accept: "text/event-stream" };
  const ac = await autocannon({
    url,
    method: "POST",
    headers,
    body: REQUEST_BODY,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  if (ac.errors > 0 || ac.non2xx > 0)
    throw new Error(`autocannon saw ${ac.errors} errors, ${ac.non2xx} non-2xx`);
  const wrk = await wrkRate(url);

  console.log(`load generator, short answers, ${CONNECTIONS} connections, ${SECONDS} s each, one core:`);
  console.log(`  runLoad     ${ours.requestsPerSecond.toFixed(0).padStart(7)} req/s`);
  console.log(
    `  autocannon  ${ac.requests.average.toFixed(0).padStart(7)} req/s   runLoad/autocannon = ${(ours.requestsPerSecond / ac.requests.average).toFixed(2)}`,
  );
  if (wrk === undefined) console.log("  wrk         not installed (apt-get install wrk): ratio skipped");
  else {
    console.log(
      `  wrk -t1     ${wrk.toFixed(0).padStart(7)} req/s   runLoad/wrk = ${(ours.requestsPerSecond / wrk).toFixed(2)}`,
    );
  }
  console.log(
    "  (one Node server process answers all three; a ratio near 1.00 means it, not the client, was the limit)",
  );
}

async function streamCost(origin: string): Promise<void> {
  const before = process.cpuUsage();
  const load = await runLoad({
    baseUrl: `${origin}/long`,
    model: "bench",
    mode: "concurrency",
    concurrency: CONNECTIONS,
    rate: 1,
    burstiness: 1,
    requests: STREAM_REQUESTS,
    warmupSeconds: 0,
    inputTokens: 16,
    outputTokens: STREAM_CHUNKS,
  });
  const oursCpu = cpuMicroseconds(before);
  const summary = summarizeLoad(load);
  const expectedTokens = STREAM_REQUESTS * STREAM_CHUNKS;
  if (summary.failed > 0 || summary.outputTokens !== expectedTokens) {
    throw new Error(
      `runLoad measured ${summary.outputTokens} tokens in ${summary.completed} requests, not ${expectedTokens}`,
    );
  }
  if (summary.latency.itl?.count !== STREAM_REQUESTS * (STREAM_CHUNKS - 1)) {
    throw new Error(
      `runLoad recorded ${summary.latency.itl?.count} ITL gaps, not ${STREAM_REQUESTS * (STREAM_CHUNKS - 1)}`,
    );
  }

  const bareBefore = process.cpuUsage();
  await bareStreams(`${origin}/long/v1/chat/completions`);
  const bareCpu = cpuMicroseconds(bareBefore);

  const perToken = (cpu: number) => cpu / expectedTokens;
  console.log(
    `load generator, streams of ${STREAM_CHUNKS} chunks, ${STREAM_REQUESTS} requests, ${CONNECTIONS} in flight:`,
  );
  console.log(`  runLoad              ${perToken(oursCpu).toFixed(2).padStart(6)} µs CPU per streamed token`);
  console.log(`  bare undici reader   ${perToken(bareCpu).toFixed(2).padStart(6)} µs CPU per streamed token`);
  console.log(
    `  runLoad/bare = ${(oursCpu / bareCpu).toFixed(2)} (the cost of SSE parsing, JSON, timing and histograms)`,
  );
}

/** The same requests read as bytes and thrown away: the floor any HTTP client pays. */
async function bareStreams(url: string): Promise<void> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: CONNECTIONS });
  let left = STREAM_REQUESTS;
  const worker = async () => {
    while (left-- > 0) {
      const response = await pool.request({
        path: pathname,
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: REQUEST_BODY,
      });
      for await (const chunk of response.body) void chunk;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await pool.close();
}

/** wrk's requests/s with one thread, or undefined when wrk is not installed. */
async function wrkRate(url: string): Promise<number | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "modelship-bench-wrk-"));
  try {
    const script = join(dir, "post.lua");
    await writeFile(
      script,
      [
        'wrk.method = "POST"',
        `wrk.body = ${JSON.stringify(REQUEST_BODY)}`,
        'wrk.headers["Content-Type"] = "application/json"',
        'wrk.headers["Accept"] = "text/event-stream"',
      ].join("\n"),
    );
    const args = ["-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "-s", script, url];
    const { stdout } = await promisify(execFile)("wrk", args).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return { stdout: undefined };
      throw error;
    });
    if (stdout === undefined) return undefined;
    const match = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    if (!match) throw new Error(`wrk printed no Requests/sec:\n${stdout}`);
    if (/Non-2xx|Socket errors/.test(stdout)) throw new Error(`wrk saw errors:\n${stdout}`);
    return Number(match[1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["-e", SERVER], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, STREAM_CHUNKS: String(STREAM_CHUNKS) },
  });
  const [port] = (await once(child, "message")) as [number];
  return { child, port };
}

function cpuMicroseconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}
