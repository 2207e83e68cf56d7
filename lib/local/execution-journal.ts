// What a local execution did, kept for whoever follows it from another process (`modelship run` beside a
// running control plane): every state transition and every event the rollout emitted, in order, then how it
// ended. A follower gets the entries so far, then each new one as it happens. Entries past a cap are dropped
// from the start of the journal (the readiness loop of a slow server can make many), and the follower is told
// how many.

import type { ModelshipEvent } from "../core/events/events";
import type { ExecutionResult, StateTransition } from "./executor";

export type JournalEntry =
  | { readonly transition: StateTransition }
  | { readonly event: ModelshipEvent }
  | { readonly dropped: number }
  | { readonly result: ExecutionResult };

type Happening = Extract<JournalEntry, { transition: unknown } | { event: unknown }>;

/** How many transitions and events a journal keeps; older ones are dropped, and counted. */
export const MAX_TRANSITIONS = 5_000;

interface Journal {
  readonly happenings: Happening[];
  dropped: number;
  result?: ExecutionResult;
  readonly followers: Set<(entry: JournalEntry) => void>;
}

export class ExecutionJournal {
  private readonly journals = new Map<string, Journal>();

  /** Opens the journal of an execution just started, so it can be followed before its first transition. */
  begin(executionId: string): void {
    this.journalOf(executionId);
  }

  record(executionId: string, transition: StateTransition): void {
    this.add(executionId, { transition });
  }

  /** An event the execution's rollout emitted (its detail's `executionArn` is the execution's id). */
  recordEvent(executionId: string, event: ModelshipEvent): void {
    this.add(executionId, { event });
  }

  end(executionId: string, result: ExecutionResult): void {
    const journal = this.journalOf(executionId);
    journal.result = result;
    for (const follower of journal.followers) follower({ result });
    journal.followers.clear();
  }

  has(executionId: string): boolean {
    return this.journals.has(executionId);
  }

  /**
   * Calls `onEntry` with every entry so far, then with each new one until the result (the last entry).
   * Returns how to stop following earlier.
   */
  follow(executionId: string, onEntry: (entry: JournalEntry) => void): () => void {
    const journal = this.journalOf(executionId);
    if (journal.dropped > 0) onEntry({ dropped: journal.dropped });
    for (const happening of journal.happenings) onEntry(happening);
    if (journal.result) {
      onEntry({ result: journal.result });
      return () => undefined;
    }
    journal.followers.add(onEntry);
    return () => journal.followers.delete(onEntry);
  }

  private add(executionId: string, happening: Happening): void {
    const journal = this.journalOf(executionId);
    journal.happenings.push(happening);
    if (journal.happenings.length > MAX_TRANSITIONS) {
      journal.happenings.shift();
      journal.dropped++;
    }
    for (const follower of journal.followers) follower(happening);
  }

  private journalOf(executionId: string): Journal {
    let journal = this.journals.get(executionId);
    if (!journal) {
      journal = { happenings: [], dropped: 0, followers: new Set() };
      this.journals.set(executionId, journal);
    }
    return journal;
  }
}
