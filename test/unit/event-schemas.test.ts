import { readFile } from "node:fs/promises";
import { format, resolveConfig } from "prettier";
import { describe, expect, it } from "vitest";
import { EVENTS_DOC, withEventFieldTables } from "../../lib/cli/event-docs";
import { eventDetailJsonSchemas, eventSchemaName } from "../../lib/core/events/event-json-schemas";
import { EMITTED_DETAIL_TYPES, type ModelshipEvent } from "../../lib/core/events/events";
import { handleCommand } from "../../lib/pipeline/commands";
import { CANARY_FLOW as flow, canaryWorld, MODEL, rolloutThroughGates } from "../support/canary-world";
import { eventSchemaViolations } from "../support/event-schema-check";
import { MemoryEvents } from "../support/memory-events";

const promoted: ModelshipEvent = {
  detailType: "Model Promoted",
  time: "2026-12-07T15:00:00.000Z",
  detail: {
    model: "llama",
    version: "v2",
    rolloutId: "llama-v2-0badf00d",
    executionArn: "local-1",
    stage: "Promote",
    message: "llama v2 takes all traffic.",
    data: { previousStable: "v1", watchSeconds: 1800, weights: { stable: 0, candidate: 100 } },
  },
};

describe("The event detail schemas (schemas/events/)", () => {
  it("cover every detail-type modelship emits, one file each", () => {
    expect([...eventDetailJsonSchemas().keys()].sort()).toEqual(
      EMITTED_DETAIL_TYPES.map((type) => `${eventSchemaName(type)}.json`).sort(),
    );
  });

  it("refuse a detail missing a field, of the wrong type, or with data of another detail-type", () => {
    expect(eventSchemaViolations(promoted)).toEqual([]);
    const { rolloutId: _, ...withoutId } = promoted.detail;
    expect(eventSchemaViolations({ ...promoted, detail: withoutId as ModelshipEvent["detail"] })).toContain(
      "/ must have required property 'rolloutId'",
    );
    expect(
      eventSchemaViolations({ ...promoted, detail: { ...promoted.detail, data: { watchSeconds: "1800" } } }),
    ).not.toEqual([]);
    expect(
      eventSchemaViolations({ detailType: "Canary Weight Changed", detail: promoted.detail }).join("\n"),
    ).toContain("must have required property 'step'");
  });

  it("take the note that replaces data too large for EventBridge", () => {
    const trimmed = {
      trimmed: "data (300000 bytes) was dropped: the event exceeded EventBridge's 256 KiB limit",
    };
    expect(eventSchemaViolations({ ...promoted, detail: { ...promoted.detail, data: trimmed } })).toEqual([]);
  });

  it("are checked on every event a test's in-memory sink receives", async () => {
    const events = new MemoryEvents();
    await expect(events.emit({ ...promoted, detail: { ...promoted.detail, data: {} } })).rejects.toThrow(
      /"Model Promoted" from Promote does not match schemas\/events\/ModelPromoted\.json/,
    );
  });

  it("match what a release, a canary with its promotion, and a rollback on command emit", async () => {
    const world = canaryWorld();
    let state = await flow.registerGateway(await rolloutThroughGates(world, "v1"), world);
    state = await flow.promote(state, world);
    await flow.finalize(await flow.checkWatch(state, world), world);
    state = await flow.registerGateway(await rolloutThroughGates(world, "v2"), world);
    await flow.canaryStep(state, world);
    await handleCommand(
      {
        "detail-type": "Rollback Requested",
        detail: { model: MODEL, requestedBy: "carol", reason: "too slow" },
      },
      world,
    );

    const emitted = world.events.emitted;
    expect(new Set(emitted.map((e) => e.detailType))).toEqual(
      new Set([
        "Rollout Started",
        "Stage Succeeded",
        "Model Promoted",
        "Canary Weight Changed",
        "Model Rolled Back",
      ]),
    );
    for (const event of emitted) expect(eventSchemaViolations(event), event.detailType).toEqual([]);
  });
});

describe("docs/events.md", () => {
  it("lists the fields the schemas describe: run `npm run schemas` after changing an event's schema", async () => {
    const page = await readFile(EVENTS_DOC, "utf8");
    const options = { ...(await resolveConfig(EVENTS_DOC)), filepath: EVENTS_DOC };
    expect(page).toBe(await format(withEventFieldTables(page), options));
    for (const type of EMITTED_DETAIL_TYPES) expect(page).toContain(`### ${type}\n`);
  });
});
