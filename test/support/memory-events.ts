// An in-memory Events port: keeps what stages emit, in order, for tests to read.

import type { EmittedDetailType, ModelshipEvent } from "../../lib/core/events";
import type { Events } from "../../lib/ports";

export class MemoryEvents implements Events {
  readonly emitted: ModelshipEvent[] = [];

  async emit(event: ModelshipEvent): Promise<void> {
    this.emitted.push(structuredClone(event));
  }

  ofType(detailType: EmittedDetailType): ModelshipEvent[] {
    return this.emitted.filter((e) => e.detailType === detailType);
  }
}
