// Finds a request's stop strings in generated text as it streams, so the answer ends just before the first
// stop string and no part of one is ever sent: text that could be the start of a stop string is held back
// until the next piece shows whether it is one.

interface ScanResult {
  /** Text that is safe to send now. */
  readonly text: string;
  /** True when a stop string was found: `text` ends just before it, and nothing more may be sent. */
  readonly stopped: boolean;
}

export class StopScanner {
  private held = "";
  private stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  push(piece: string): ScanResult {
    if (this.stopped) return { text: "", stopped: true };
    const text = this.held + piece;
    const stopAt = this.firstStopIndex(text);
    if (stopAt !== undefined) {
      this.stopped = true;
      this.held = "";
      return { text: text.slice(0, stopAt), stopped: true };
    }
    const keep = this.longestStopPrefixAtEnd(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** The end of the generation: text held back as a possible stop string was not one after all. */
  flush(): string {
    const text = this.held;
    this.held = "";
    return this.stopped ? "" : text;
  }

  private firstStopIndex(text: string): number | undefined {
    let first: number | undefined;
    for (const stop of this.stops) {
      const index = text.indexOf(stop);
      if (index >= 0 && (first === undefined || index < first)) first = index;
    }
    return first;
  }

  private longestStopPrefixAtEnd(text: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, text.length); length > longest; length--) {
        if (text.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}
