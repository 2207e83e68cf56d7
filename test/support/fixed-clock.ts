// A Clock that says what the test tells it: time moves only when the test advances it.

import type { Clock } from "../../lib/ports";

export class FixedClock implements Clock {
  private current: Date;

  constructor(iso = "2025-06-01T12:00:00.000Z") {
    this.current = new Date(iso);
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the time on by `ms` at once: a stage's bounded wait takes no real time in a test. */
  async sleep(ms: number): Promise<void> {
    this.advance(ms / 1000);
  }

  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}
