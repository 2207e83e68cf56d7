import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/eval";
import { type Script, ScriptedModelServer } from "./eval/scripted-model-server";

let root: string;
let stdout: string[];
let stderr: string[];
let server: ScriptedModelServer | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "modelship-cli-eval-"));
  stdout = [];
  stderr = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void stdout.push(args.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void stderr.push(args.join(" ")));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
  await rm(root, { recursive: true, force: true });
});

/** The server's root URL, without `/v1`: the CLI adds it. */
async function serve(script: Script): Promise<string> {
  server = await ScriptedModelServer.start(script);
  return server.baseUrl.replace(/\/v1$/, "");
}

async function suiteFile(name: string, lines: readonly (object | string)[]): Promise<string> {
  const file = join(root, name);
  await writeFile(file, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n"));
  return file;
}

const capitals = [
  "Paris",
  "Rome",
  "Madrid",
  "Berlin",
  "Lisbon",
  "Vienna",
  "Athens",
  "Oslo",
  "Dublin",
  "Prague",
  "Warsaw",
  "Bern",
];
const capitalItems = capitals.map((city, i) => ({
  id: `capital-${i}`,
  messages: [{ role: "user", content: `Name capital number ${i}.` }],
  answer: city,
  scorer: "contains",
}));
/** A model that knows the first `known` capitals and answers "I don't know" to the rest. */
const knowsCapitals =
  (known: number): Script =>
  ({ question }) => {
    const i = Number(/\d+/.exec(question)?.[0]);
    return { content: i < known ? `It is ${capitals[i]}.` : "I don't know." };
  };

describe("modelship eval", () => {
  it("prints each suite's accuracy with its Wilson 95% interval", async () => {
    const url = await serve(knowsCapitals(9));
    const suite = await suiteFile("capitals.jsonl", capitalItems);
    const code = await run([url, "--model", "scripted", "--suite", suite]);
    expect(stderr).toEqual([]);
    expect(code).toBe(0);
    const text = stdout.join("\n");
    expect(text).toContain(`scripted at ${url}/v1`);
    expect(text).toContain(
      "capitals: 75.0% (9/12 correct), 95% CI 46.8%–91.1% · 3 wrong · 0 without an answer",
    );
    expect(server!.requests[0]?.path).toBe("/v1/chat/completions");
  });

  it("runs the built-in sanity suite", async () => {
    const url = await serve(() => ({ content: "I am not sure." }));
    const code = await run([`${url}/v1/`, "--model", "scripted", "--suite", "sanity", "--concurrency", "8"]);
    expect(code).toBe(0);
    expect(stdout.join("\n")).toMatch(/sanity: 0\.0% \(0\/\d+ correct\)/);
  });

  it("prints every finding of a bad suite and exits 1 without calling the server", async () => {
    const url = await serve(() => ({ content: "yes" }));
    const suite = await suiteFile("bad.jsonl", [
      capitalItems[0]!,
      "{oops",
      { id: "x", messages: [{ role: "user", content: "?" }], answer: "(a+)+", scorer: "regex" },
      { ...capitalItems[1]!, id: "capital-0" },
    ]);
    const code = await run([url, "--model", "scripted", "--suite", suite]);
    expect(code).toBe(1);
    const text = stderr.join("\n");
    expect(text).toContain("3 problems in the input");
    expect(text).toContain(`${suite} line 2: is not JSON`);
    expect(text).toContain(`${suite} line 3, answer: a repeated group contains a quantifier`);
    expect(text).toContain(`${suite} line 4, id: id 'capital-0' is already used on line 1`);
    expect(server!.requests).toEqual([]);
  });

  it("exits 1 with the network's reason when the endpoint cannot be reached", async () => {
    const url = await serve(() => ({ content: "yes" }));
    await server!.stop();
    server = undefined;
    const code = await run([url, "--model", "scripted", "--suite", "sanity"]);
    expect(code).toBe(1);
    expect(stderr[0]).toMatch(/cannot reach the endpoint: GET .*\/v1\/models: .*ECONNREFUSED/);
  });

  it.each([
    [[], "give the server's base URL"],
    [["http://localhost:8000", "--suite", "sanity"], "give the model name with --model"],
    [["http://localhost:8000", "--model", "m"], "give a suite with --suite"],
    [["localhost:8000", "--model", "m", "--suite", "sanity"], "is not an http(s) URL"],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--concurrency", "0"],
      "--concurrency takes a whole number",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--min-score", "45"],
      "--min-score takes a fraction",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "nowhere.jsonl"],
      "no such suite file: nowhere.jsonl",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--suite", "sanity"],
      "suite 'sanity' is given twice",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--frobnicate"],
      "unknown flag --frobnicate; the flags are",
    ],
  ])("exits 2 with the usage for %j", async (argv, message) => {
    expect(await run(argv)).toBe(2);
    expect(stderr.join("\n")).toContain(message);
    expect(stderr.join("\n")).toContain("Usage: modelship eval");
  });

  describe("--compare", () => {
    async function stableResults(): Promise<{ suite: string; stable: string }> {
      const url = await serve(knowsCapitals(12));
      const suite = await suiteFile("capitals.jsonl", capitalItems);
      expect(await run([url, "--model", "scripted", "--suite", suite, "--json"])).toBe(0);
      const stable = join(root, "stable.json");
      await writeFile(stable, stdout.join("\n"));
      await server!.stop();
      stdout = [];
      return { suite, stable };
    }

    it("writes --json that a later run compares with, item by item", async () => {
      const { suite, stable } = await stableResults();
      const url = await serve(knowsCapitals(11));
      const code = await run([url, "--model", "scripted", "--suite", suite, "--compare", stable]);
      expect(code).toBe(0);
      const text = stdout.join("\n");
      expect(text).toContain("vs stable on 12 paired items: 91.7% vs 100.0% (−8.3 points)");
      expect(text).toContain("b=1 only stable right, c=0 only this run right, exact McNemar p=1.00");
      expect(text).toContain("gate: ✓ pass");
    });

    it("exits 1 when the candidate is significantly worse than stable by more than --max-regression", async () => {
      const { suite, stable } = await stableResults();
      const url = await serve(knowsCapitals(4));
      const code = await run([url, "--model", "scripted", "--suite", suite, "--compare", stable, "--json"]);
      expect(code).toBe(1);
      const report = JSON.parse(stdout.join("\n")) as {
        suites: { gate: { pass: boolean; comparison: { onlyStableCorrect: number; pValue: number } } }[];
      };
      expect(report.suites[0]?.gate.pass).toBe(false);
      expect(report.suites[0]?.gate.comparison.onlyStableCorrect).toBe(8);
      expect(report.suites[0]?.gate.comparison.pValue).toBeCloseTo(0.0078125, 7);
    });

    it("exits 1 and says what is wrong with a results file that is not one", async () => {
      const url = await serve(knowsCapitals(12));
      const suite = await suiteFile("capitals.jsonl", capitalItems);
      const stable = join(root, "stable.json");
      await writeFile(stable, "{ not json");
      expect(await run([url, "--model", "scripted", "--suite", suite, "--compare", stable])).toBe(1);
      expect(stderr.join("\n")).toContain(`${stable}: is not JSON`);
    });
  });
});
