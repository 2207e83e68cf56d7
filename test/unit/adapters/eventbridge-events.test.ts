import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { EventBridgeEvents } from "../../../lib/aws/eventbridge-events";
import type { ModelshipEvent } from "../../../lib/core/events/events";

const eventBridge = mockClient(EventBridgeClient);
const client = new EventBridgeClient({ region: "us-east-1" });

function event(overrides: Partial<ModelshipEvent["detail"]> = {}): ModelshipEvent {
  return {
    detailType: "Stage Failed",
    time: "2025-01-01T10:00:00.000Z",
    detail: {
      model: "llama",
      version: "v2",
      rolloutId: "llama-v2-0a1b2c3d",
      executionArn: "arn:aws:states:us-east-1:123456789012:execution:modelship-pipeline:llama-v2-0a1b2c3d",
      stage: "Validate",
      message: "Validate failed: 2 errors.",
      error: "ModelInvalid",
      reason: "The weights are not a servable model.",
      hint: "Fix the tensor offsets.",
      data: { errors: 2 },
      ...overrides,
    },
  };
}

/** EventBridge's own count: 14 bytes for Time plus the UTF-8 bytes of Source, DetailType and Detail. */
function entrySize(entry: { Source?: string; DetailType?: string; Detail?: string }): number {
  return (
    14 + [entry.Source, entry.DetailType, entry.Detail].reduce((n, s) => n + Buffer.byteLength(s ?? ""), 0)
  );
}

describe("EventBridgeEvents", () => {
  let events: EventBridgeEvents;
  beforeEach(() => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "1" }] });
    events = new EventBridgeEvents({ busName: "modelship", client });
  });

  it("puts one entry on the bus with source modelship, the detail-type, the detail as JSON and the time", async () => {
    await events.emit(event());
    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: "modelship",
          Source: "modelship",
          DetailType: "Stage Failed",
          Time: new Date("2025-01-01T10:00:00.000Z"),
          Detail: JSON.stringify(event().detail),
        },
      ],
    });
  });

  it("drops data first to fit an event into EventBridge's 256 KiB, saying that it did", async () => {
    await events.emit(event({ data: { findings: "f".repeat(300_000) } }));
    const entry = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    const detail = JSON.parse(entry?.Detail ?? "{}");
    expect(entrySize(entry ?? {})).toBeLessThanOrEqual(256 * 1024);
    expect(detail).toMatchObject({
      model: "llama",
      message: "Validate failed: 2 errors.",
      error: "ModelInvalid",
    });
    expect(detail.data.trimmed).toMatch(/^data \(\d+ bytes\) was dropped/);
  });

  it("shortens the longest texts when dropping data is not enough", async () => {
    await events.emit(event({ message: "m".repeat(150_000), reason: "r".repeat(200_000) }));
    const entry = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    const detail = JSON.parse(entry?.Detail ?? "{}");
    expect(entrySize(entry ?? {})).toBeLessThanOrEqual(256 * 1024);
    expect(detail.reason).toMatch(/^r+… \(trimmed\)$/);
    expect(detail.message).toBe("m".repeat(150_000));
    expect(detail.hint).toBe("Fix the tensor offsets.");
  });

  it("fails when EventBridge refuses the entry, naming the error", async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "AccessDeniedException", ErrorMessage: "not authorized" }],
    });
    const failure = events.emit(event());
    await expect(failure).rejects.toThrow(/AccessDeniedException \(not authorized\)/);
    await expect(failure).rejects.not.toMatchObject({ name: "Transient" });
  });

  it("makes a throttled entry Transient, so the state machine retries", async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" }],
    });
    await expect(events.emit(event())).rejects.toMatchObject({ name: "Transient" });
  });

  it("makes a throttled call Transient too", async () => {
    eventBridge.on(PutEventsCommand).rejects(
      Object.assign(new Error("Rate exceeded"), {
        name: "ThrottlingException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(events.emit(event())).rejects.toMatchObject({
      name: "Transient",
      message: expect.stringContaining(
        'PutEvents "Stage Failed" for llama v2 failed with ThrottlingException',
      ),
    });
  });
});
