// An in-memory Events port: keeps what stages emit, in order, for tests to read; a test may also react to
// each event as it is emitted (`whenEmitted`), as an EventBridge rule's target would. Every event is checked
// against the JSON Schema published for its detail-type, so each test that runs a stage checks its events.

import type { EmittedDetailType, ModelshipEvent } from "../../lib/core/events/events";
import type { Events } from "../../lib/ports";
import { assertEventMatchesSchema } from "./event-schema-check";

export class MemoryEvents implements Events {
  readonly emitted: ModelshipEvent[] = [];
  private readonly reactions: ((event: ModelshipEvent) => Promise<void>)[] = [];

  async emit(event: ModelshipEvent): Promise<void> {
    assertEventMatchesSchema(event);
    this.emitted.push(structuredClone(event));
    for (const react of this.reactions) await react(structuredClone(event));
  }

  ofType(detailType: EmittedDetailType): ModelshipEvent[] {
    return this.emitted.filter((e) => e.detailType === detailType);
  }

  /** Runs `react` on every event from now on, before `emit` returns. */
  whenEmitted(react: (event: ModelshipEvent) => Promise<void>): void {
    this.reactions.push(react);
  }
}
