import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../../lib/cli/eval";
import { captureStreams } from "../support/console-capture";
import { type Script, ScriptedModelServer } from "./eval/scripted-model-server";

let root: string;
let stdout: string[];
let stderr: string[];
let server: ScriptedModelServer | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "modelship-cli-eval-"));
  ({ stdout, stderr } = captureStreams());
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
      "capitals: 75.0% (9/12 correct), 95% CI 46.8%–91.1%\n  answered 12 of 12: 9 correct, 3 wrong",
    );
    expect(text).not.toContain("no answer");
    expect(server!.requests[0]?.path).toBe("/v1/chat/completions");
  });

  it("runs the built-in sanity suite", async () => {
    const url = await serve(() => ({ content: "I am not sure." }));
    const code = await run([`${url}/v1/`, "--model", "scripted", "--suite", "sanity", "--concurrency", "8"]);
    expect(code).toBe(0);
    expect(stdout.join("\n")).toMatch(/sanity: 0\.0% \(0\/\d+ correct\)/);
  });

  describe("items without an answer", () => {
    /** Like the tiny GGUF's server: a question asking for more tokens than its context holds is refused. */
    const contextOf =
      (context: number): Script =>
      ({ body, question }) => {
        const asked = body["max_tokens"] as number;
        const prompt = 20 + question.length;
        return prompt + asked > context
          ? {
              status: 400,
              message: `The prompt is ${prompt} tokens and ${asked} more were asked for, ${prompt + asked} in all, over this server's context of ${context} tokens. Ask for at most ${context - prompt} tokens, or shorten the prompt.`,
            }
          : { content: "I don't know." };
      };

    it("are counted apart from wrong answers, by kind, and a suite with more of them than --max-errors could not be evaluated: exit 1", async () => {
      const url = await serve(contextOf(256));
      const code = await run([url, "--model", "scripted", "--suite", "sanity"]);
      expect(code).toBe(1);
      const text = stdout.join("\n");
      expect(text).toMatch(/^ {2}answered 2 of 38: 0 correct, 2 wrong$/m);
      expect(text).toContain("  no answer for 36 of 38 (94.7%; at most 10.0% allowed): HTTP 400 ×36");
      expect(text).toMatch(
        /^ {4}'arith-add': HTTP 400: The prompt is \d+ tokens and 512 more were asked for/m,
      );
      expect(text).toContain(
        "  ✗ not evaluated: more than --max-errors 10.0% of the items got no answer; the score would measure the server's failures, not the model.",
      );
      expect(stderr.join("\n")).toBe(
        "✖ sanity could not be evaluated: 36 of 38 items got no answer (HTTP 400 ×36), more than --max-errors 10.0% allows.\n" +
          "  Hint: the server refused them (HTTP 400): when a prompt and its max_tokens do not fit the model's context, lower --max-tokens " +
          "(items ask for up to 512 tokens unless they set their own). Raise --max-errors only if some failures are expected.",
      );
    });

    it("--max-tokens caps every item's max_tokens, so the suite fits a small context and is evaluated", async () => {
      const url = await serve(contextOf(256));
      const code = await run([url, "--model", "scripted", "--suite", "sanity", "--max-tokens", "32"]);
      expect(stderr).toEqual([]);
      expect(code).toBe(0);
      expect(stdout.join("\n")).toMatch(/^ {2}answered 38 of 38: 0 correct, 38 wrong$/m);
      expect(new Set(server!.requests.map((r) => r.body["max_tokens"]))).toEqual(new Set([16, 32]));
    });

    it("are in the JSON apart from wrong answers, with the share allowed and whether the suite was evaluated", async () => {
      const url = await serve(contextOf(256));
      expect(await run([url, "--model", "scripted", "--suite", "sanity", "--json"])).toBe(1);
      const report = JSON.parse(stdout.join("\n")) as { suites: Record<string, unknown>[] };
      expect(report.suites[0]).toMatchObject({
        score: { items: 38, correct: 0, wrong: 2, errors: 36 },
        evaluated: false,
        unanswered: { count: 36, items: 38, maxErrorRate: 0.1, tooMany: true, kinds: { "HTTP 400": 36 } },
      });
    });

    it("--max-errors sets the share that may go unanswered, as a percentage or a fraction", async () => {
      const url = await serve(({ question, body }) =>
        /capital number [0-4]\./.test(question)
          ? { status: 400, message: `no (${String(body["max_tokens"])})` }
          : { content: "Paris" },
      );
      const suite = await suiteFile("capitals.jsonl", capitalItems);
      expect(await run([url, "--model", "scripted", "--suite", suite])).toBe(1);
      expect(await run([url, "--model", "scripted", "--suite", suite, "--max-errors", "50%"])).toBe(0);
      expect(await run([url, "--model", "scripted", "--suite", suite, "--max-errors", "0.4"])).toBe(1);
      expect(await run([url, "--model", "scripted", "--suite", suite, "--max-errors", "0.45"])).toBe(0);
    });

    it("gates a suite that could not be evaluated as failed, whatever its score on the rest", async () => {
      const everyCapital = capitals.join(", ");
      const url = await serve(({ question }) =>
        /capital number [0-5]\./.test(question)
          ? { status: 404, message: "The model 'scripted' does not exist." }
          : { content: `It is one of ${everyCapital}.` },
      );
      const suite = await suiteFile("capitals.jsonl", capitalItems);
      expect(await run([url, "--model", "scripted", "--suite", suite, "--min-score", "0.4"])).toBe(1);
      const text = stdout.join("\n");
      expect(text).toContain("capitals: 50.0% (6/12 correct)");
      expect(text).toContain("gate: ✗ FAIL");
      expect(text).toContain(
        "Could not evaluate: 6 of 12 items (50.0%) got no answer, more than maxErrorRate 10.0% allows; the score would measure the server's failures, not the model.",
      );
      expect(text).toContain("HTTP 404 ×6");
      expect(stderr.join("\n")).toContain("Hint: each item's error is in the table above");
    });
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
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--max-tokens", "0"],
      "--max-tokens takes a whole number from 1 to 32768, not '0'",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--max-errors", "lots"],
      "--max-errors takes a share from 0% to 100% (e.g. 10% or 0.1), not 'lots'",
    ],
    [
      ["http://localhost:8000", "--model", "m", "--suite", "sanity", "--max-errors", "150%"],
      "--max-errors takes a share from 0% to 100%",
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
      stdout.length = 0;
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
