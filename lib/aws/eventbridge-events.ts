// The Events port on Amazon EventBridge: each event is one PutEvents entry on the modelship bus, source
// `modelship`. An entry EventBridge refuses is an error (Transient when it was throttled or failed inside
// the service). An event too big for EventBridge is trimmed to fit — its `data` first, then its longest
// texts — because a rollout must not fail over a notification's size.

import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { Transient } from "../core/errors";
import { EVENT_SOURCE, type EventDetail, type ModelshipEvent } from "../core/events/events";
import type { Events } from "../ports";
import { asTransientWhenPassing } from "./transient-errors";

export interface EventBridgeEventsOptions {
  /** The bus's name or ARN. */
  readonly busName: string;
  /** Default: `new EventBridgeClient({})` (the environment's standard configuration). */
  readonly client?: EventBridgeClient;
}

/** EventBridge's limit on one entry, counted as its documentation says (see `entrySize`). */
const MAX_EVENT_ENTRY_BYTES = 256 * 1024;

const TRANSIENT_ENTRY_ERRORS = new Set(["ThrottlingException", "InternalException", "InternalFailure"]);

export class EventBridgeEvents implements Events {
  private readonly busName: string;
  private readonly client: EventBridgeClient;

  constructor({ busName, client }: EventBridgeEventsOptions) {
    this.busName = busName;
    this.client = client ?? new EventBridgeClient({});
  }

  async emit(event: ModelshipEvent): Promise<void> {
    const entry = fitEntry(
      {
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: event.detailType,
        Time: new Date(event.time),
        Detail: JSON.stringify(event.detail),
      },
      event.detail,
    );
    const what = `PutEvents "${event.detailType}" for ${event.detail.model} ${event.detail.version}`;
    let response;
    try {
      response = await this.client.send(new PutEventsCommand({ Entries: [entry] }));
    } catch (error) {
      throw asTransientWhenPassing(error, what);
    }
    if (!response.FailedEntryCount) return;
    const failed = response.Entries?.find((e) => e.ErrorCode) ?? {};
    const reason = `${what} was refused: ${failed.ErrorCode ?? "unknown error"} (${failed.ErrorMessage ?? "no message"}).`;
    if (TRANSIENT_ENTRY_ERRORS.has(failed.ErrorCode ?? "")) {
      throw new Transient(reason, { hint: "EventBridge was busy; the state machine retries." });
    }
    throw new Error(
      `${reason} Check that the bus ${this.busName} exists and that this function may put events on it.`,
    );
  }
}

/**
 * The entry as it is, or trimmed to EventBridge's size limit: without `data` (noting that it was dropped),
 * then with the message, reason and hint shortened, longest first.
 */
function fitEntry(entry: PutEventsRequestEntry, detail: EventDetail): PutEventsRequestEntry {
  if (entrySize(entry) <= MAX_EVENT_ENTRY_BYTES) return entry;
  const dataBytes = Buffer.byteLength(JSON.stringify(detail.data ?? {}));
  let trimmed: Record<string, unknown> = {
    ...detail,
    data: {
      trimmed: `data (${dataBytes} bytes) was dropped: the event exceeded EventBridge's 256 KiB limit`,
    },
  };
  const withDetail = (d: Record<string, unknown>) => ({ ...entry, Detail: JSON.stringify(d) });
  const texts = (["message", "reason", "hint"] as const)
    .map((field) => [field, detail[field] ?? ""] as const)
    .sort(([, a], [, b]) => b.length - a.length);
  for (const [field, text] of texts) {
    const excess = entrySize(withDetail(trimmed)) - MAX_EVENT_ENTRY_BYTES;
    if (excess <= 0) break;
    const keep = Math.max(0, text.length - excess - 100);
    trimmed = { ...trimmed, [field]: `${text.slice(0, keep)}… (trimmed)` };
  }
  return withDetail(trimmed);
}

/** EventBridge's entry size: 14 bytes for Time, plus the UTF-8 bytes of Source, DetailType, Detail and Resources. */
function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (s: string | undefined) => (s ? Buffer.byteLength(s, "utf8") : 0);
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, r) => sum + bytes(r), 0)
  );
}
