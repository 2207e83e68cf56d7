import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { prepare } from "../../lib/pipeline/prepare";
import { MAX_PROMPT_SET_BYTES } from "../../lib/pipeline/stress-prompts";
import { PREPARE_INPUT, PREPARE_PREFIX, prepareBench } from "../support/prepare-bench";

/** A prompt set of `count` chat prompts, one JSON object per line. */
function promptSet(count: number): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ messages: [{ role: "user", content: `Summarize ticket ${i}.` }] }),
  ).join("\n");
}

describe("Prepare, for a stress test on a prompt set from the bucket", () => {
  const bench = prepareBench();
  const { manifest, rejection } = bench;

  it("plans the prompt set with its key, the SHA-256 of the file it checked and its number of prompts", async () => {
    const file = promptSet(40);
    await bench.objects.put("prompts/chat-sample.jsonl", file);
    await manifest("gates: {stress: {prompts: chat-sample}}");

    const { manifest: resolved, plan } = await prepare(PREPARE_INPUT, bench.deps);

    expect(resolved.gates.stress.prompts).toBe("chat-sample");
    expect(plan.stressPrompts).toEqual({
      name: "chat-sample",
      key: "prompts/chat-sample.jsonl",
      sha256: createHash("sha256").update(file).digest("hex"),
      prompts: 40,
    });
  });

  it("plans synthetic prompts (a null prompt set) when the manifest names none, reading nothing under prompts/", async () => {
    await manifest("");

    const { plan } = await prepare(PREPARE_INPUT, bench.deps);

    expect(plan.stressPrompts).toBeNull();
    expect(bench.objects.reads.filter((r) => r.key.startsWith("prompts/"))).toEqual([]);
  });

  it("reads no prompt set when the stress gate is off", async () => {
    await manifest("gates: {stress: {enabled: false, prompts: absent}}");

    const { plan } = await prepare(PREPARE_INPUT, bench.deps);

    expect(plan.stressPrompts).toBeNull();
  });

  it("rejects a prompt set that is not in the bucket, naming the file and how to fix it", async () => {
    await manifest("gates: {stress: {prompts: chat-sample}}");

    const error = await rejection();

    expect(error.reason).toBe(
      `The stress prompt set 'chat-sample' of ${PREPARE_PREFIX}modelship.yaml cannot be used.`,
    );
    expect(error.findings).toEqual([
      {
        severity: "error",
        code: "stress-prompts.missing",
        file: "prompts/chat-sample.jsonl",
        message:
          "prompt set 'chat-sample' has no file: s3://memory-bucket/prompts/chat-sample.jsonl does not exist.",
        hint: "Upload the prompt set as prompts/chat-sample.jsonl (one JSON prompt per line; see docs/loadgen.md) before the manifest, or remove gates.stress.prompts to send synthetic prompts.",
      },
    ]);
  });

  it("reports every bad line of the prompt set at once, each with its line number", async () => {
    const lines = [
      JSON.stringify({ prompt: "Write a haiku about load balancers." }),
      "{not json",
      JSON.stringify({ messages: [{ role: "robot", content: "beep" }] }),
      "",
      JSON.stringify({ id: "q4", answer: "B" }),
    ];
    const bytes = new TextEncoder().encode(`${lines.join("\n")}\n`);
    const notUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    await bench.objects.put(
      "prompts/chat.jsonl",
      new Uint8Array([...bytes, ...notUtf8, 0x0a, ...new TextEncoder().encode('{"prompt": ""}')]),
    );
    await manifest("gates: {stress: {prompts: chat}}");

    const error = await rejection();

    expect(error.findings.map((f) => [f.file, f.path, f.code])).toEqual([
      ["prompts/chat.jsonl", "line 2", "stress-prompts.bad-line"],
      ["prompts/chat.jsonl", "line 3", "stress-prompts.bad-line"],
      ["prompts/chat.jsonl", "line 5", "stress-prompts.bad-line"],
      ["prompts/chat.jsonl", "line 6", "stress-prompts.not-utf8"],
      ["prompts/chat.jsonl", "line 7", "stress-prompts.bad-line"],
    ]);
    const messages = error.findings.map((f) => f.message);
    expect(messages[1]).toMatch(/^messages\[0\]\.role: .*"system" \| "user" \| "assistant"/);
    expect(messages[2]).toBe("has neither `messages` nor `prompt`");
    expect(messages[4]).toBe("`prompt` must be a non-empty string");
    expect(error.hint).toMatch(/upload the prompt set under prompts\/ .*then upload the manifest again/);
  });

  it("lists the first bad lines of a broken file one by one and counts the rest", async () => {
    await bench.objects.put("prompts/dump.jsonl", Array.from({ length: 300 }, () => "[1, 2]").join("\n"));
    await manifest("gates: {stress: {prompts: dump}}");

    const error = await rejection();

    expect(error.findings).toHaveLength(51);
    expect(error.findings[49]?.path).toBe("line 50");
    expect(error.findings[50]?.message).toMatch(/^250 more findings like the ones above/);
  });

  it("refuses a prompt set too large to be one, without reading it", async () => {
    await bench.objects.put("prompts/huge.jsonl", new Uint8Array(MAX_PROMPT_SET_BYTES + 1));
    await manifest("gates: {stress: {prompts: huge}}");

    const error = await rejection();

    expect(error.findings.map((f) => [f.file, f.code])).toEqual([
      ["prompts/huge.jsonl", "stress-prompts.too-large"],
    ]);
    expect(bench.objects.reads.map((r) => r.key)).not.toContain("prompts/huge.jsonl");
  });

  it("reports a broken prompt set and a broken eval suite in one rejection", async () => {
    await bench.objects.put("prompts/chat.jsonl", "{not json");
    await manifest("gates: {stress: {prompts: chat}, eval: {suites: [{name: absent}]}}");

    const error = await rejection();

    expect(error.reason).toBe(
      `The eval suite 'absent' and the stress prompt set 'chat' of ${PREPARE_PREFIX}modelship.yaml cannot be run.`,
    );
    expect(error.findings.map((f) => [f.file, f.code])).toEqual([
      ["evals/absent.jsonl", "eval-suite.missing"],
      ["prompts/chat.jsonl", "stress-prompts.bad-line"],
    ]);
  });

  it("rejects the rollout before taking the lock, and tells the bus why", async () => {
    await manifest("gates: {stress: {prompts: absent}}");

    await rejection();

    expect((await bench.store.get("llama"))?.lock).toBeUndefined();
    expect(
      bench.events.emitted.map((e) => [e.detailType, e.detail.error, e.detail.data?.["findings"]]),
    ).toEqual([
      [
        "Rollout Rejected",
        "ManifestInvalid",
        ["prompt set 'absent' has no file: s3://memory-bucket/prompts/absent.jsonl does not exist."],
      ],
    ]);
  });

  it("refuses inputTokens beside a prompt set, since one of them would not apply", async () => {
    await bench.objects.put("prompts/chat.jsonl", promptSet(3));
    await manifest("gates: {stress: {prompts: chat, inputTokens: 512}}");

    const error = await rejection();

    expect(error.findings.map((f) => [f.path, f.code])).toEqual([
      ["gates.stress.inputTokens", "manifest.stress-prompts-input-tokens"],
    ]);
    expect(error.findings[0]?.hint).toMatch(/Remove inputTokens to send the prompt set, or remove prompts/);
  });

  it("refuses a prompt set name that is not a plain file name", async () => {
    await manifest("gates: {stress: {prompts: ../models/llama/v2/secrets}}");

    const error = await rejection();

    expect(error.findings.map((f) => f.path)).toEqual(["gates.stress.prompts"]);
    expect(bench.objects.reads.filter((r) => !r.key.endsWith("modelship.yaml"))).toEqual([]);
  });
});
