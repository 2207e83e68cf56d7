// The Events port on one machine: each event is appended to a JSONL file as one line,
// `{time, source, detailType, detail}` — the fields an EventBridge rule would see — so the local runtime's
// history can be read back, tailed or grepped. `readEvents` reads the file back for the CLI and tests.

import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  EVENT_SOURCE,
  type EmittedDetailType,
  type EventDetail,
  type ModelshipEvent,
} from "../core/events/events";
import type { Events } from "../ports";

/** One line of the events file. */
export interface EventLine {
  readonly time: string;
  readonly source: string;
  readonly detailType: EmittedDetailType;
  readonly detail: EventDetail;
}

export class JsonlEvents implements Events {
  private readonly filePath: string;
  /** Emits append in call order: each waits for the one before it. */
  private pending: Promise<void> = Promise.resolve();

  constructor(filePath: string) {
    this.filePath = filePath;
  }

  emit(event: ModelshipEvent): Promise<void> {
    const line: EventLine = {
      time: event.time,
      source: EVENT_SOURCE,
      detailType: event.detailType,
      detail: event.detail,
    };
    const append = this.pending.then(async () => {
      await mkdir(dirname(this.filePath), { recursive: true });
      await appendFile(this.filePath, `${JSON.stringify(line)}\n`, "utf8");
    });
    this.pending = append.catch(() => undefined);
    return append;
  }
}

/**
 * Every event in the file, oldest first; none when the file does not exist. A last line without its
 * newline is an append still in flight and is skipped; any other line that is not an event is an error
 * naming the file and line.
 */
export async function readEvents(filePath: string): Promise<EventLine[]> {
  let text: string;
  try {
    text = await readFile(filePath, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return [];
    throw error;
  }
  const lines = text.split("\n");
  lines.pop();
  const events: EventLine[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${filePath}:${index + 1} is not valid JSON (${(error as Error).message}).`, {
        cause: error,
      });
    }
    if (!isEventLine(parsed)) {
      throw new Error(
        `${filePath}:${index + 1} is not a modelship event: expected {time, source, detailType, detail}.`,
      );
    }
    events.push(parsed);
  });
  return events;
}

function isEventLine(value: unknown): value is EventLine {
  if (!value || typeof value !== "object") return false;
  const line = value as Record<string, unknown>;
  return (
    typeof line.time === "string" &&
    typeof line.source === "string" &&
    typeof line.detailType === "string" &&
    !!line.detail &&
    typeof line.detail === "object"
  );
}
