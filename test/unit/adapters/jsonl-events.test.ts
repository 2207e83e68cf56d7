import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { ModelshipEvent } from "../../../lib/core/events/events";
import { JsonlEvents, readEvents } from "../../../lib/local/jsonl-events";

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

function event(stage: string): ModelshipEvent {
  return {
    detailType: "Stage Succeeded",
    time: "2025-01-01T10:00:00.000Z",
    detail: {
      model: "llama",
      version: "v1",
      rolloutId: "r",
      executionArn: "local-1",
      stage,
      message: `${stage} done`,
    },
  };
}

describe("JsonlEvents", () => {
  let file: string;
  beforeEach(async () => {
    const folder = await mkdtemp(join(tmpdir(), "modelship-events-"));
    folders.push(folder);
    file = join(folder, "nested", "events.jsonl");
  });

  it("appends one JSON line per event with time, source, detail-type and detail", async () => {
    await new JsonlEvents(file).emit(event("Validate"));
    expect(await readFile(file, "utf8")).toBe(
      `${JSON.stringify({ time: "2025-01-01T10:00:00.000Z", source: "modelship", detailType: "Stage Succeeded", detail: event("Validate").detail })}\n`,
    );
  });

  it("keeps events in the order they were emitted, even when not awaited one by one", async () => {
    const events = new JsonlEvents(file);
    const stages = Array.from({ length: 25 }, (_, i) => `stage-${i}`);
    await Promise.all(stages.map((stage) => events.emit(event(stage))));
    expect((await readEvents(file)).map((e) => e.detail.stage)).toEqual(stages);
  });

  it("reads back nothing from a file that does not exist yet", async () => {
    expect(await readEvents(file)).toEqual([]);
  });

  it("skips a last line still being written", async () => {
    await new JsonlEvents(file).emit(event("Validate"));
    await appendFile(file, '{"time": "2025-01-01T10:00:01.000Z", "sou');
    expect((await readEvents(file)).map((e) => e.detail.stage)).toEqual(["Validate"]);
  });

  it("names the file and line of a line that is not an event", async () => {
    await new JsonlEvents(file).emit(event("Validate"));
    await appendFile(file, "not json\n");
    await expect(readEvents(file)).rejects.toThrow(`${file}:2 is not valid JSON`);
  });
});
