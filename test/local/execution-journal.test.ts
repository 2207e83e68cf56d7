// What a process following a local execution (`modelship run` beside a running control plane) is told by the
// ExecutionJournal: every state transition in order, then how the execution ended, and nothing after; a late
// follower gets the whole story; a journal past its cap says how many early transitions it no longer has.

import { describe, expect, it } from "vitest";
import { type JournalEntry, ExecutionJournal, MAX_TRANSITIONS } from "../../lib/local/execution-journal";
import type { ExecutionResult, StateTransition } from "../../lib/local/executor";

const ID = "local:tiny-v1-0123abcd";

function entered(state: string): StateTransition {
  return { type: "entered", state, stateType: "Task", timestamp: 0 };
}

const FAILED: ExecutionResult = {
  status: "FAILED",
  error: { Error: "CandidateFailed", Cause: "The server did not start." },
};

/** The states of the transitions a follower got, with `dropped N` and the result's status in place. */
function story(entries: readonly JournalEntry[]): string[] {
  return entries.map((entry) =>
    "transition" in entry
      ? entry.transition.state
      : "event" in entry
        ? `● ${entry.event.detailType}`
        : "dropped" in entry
          ? `dropped ${entry.dropped}`
          : `result ${entry.result.status}`,
  );
}

describe("ExecutionJournal", () => {
  it("keeps the rollout's events among its transitions, in the order they happened", () => {
    const journal = new ExecutionJournal();
    const seen: JournalEntry[] = [];
    journal.record(ID, entered("SmokeTest"));
    journal.recordEvent(ID, {
      detailType: "Stage Succeeded",
      time: "2025-01-01T00:00:00.000Z",
      detail: {
        model: "tiny",
        version: "v1",
        rolloutId: "tiny-v1-0123abcd",
        executionArn: ID,
        stage: "SmokeTest",
        message: "passed",
      },
    });
    journal.follow(ID, (entry) => void seen.push(entry));
    journal.record(ID, entered("RegisterGateway"));
    journal.end(ID, FAILED);
    expect(story(seen)).toEqual(["SmokeTest", "● Stage Succeeded", "RegisterGateway", "result FAILED"]);
  });

  it("gives a follower the transitions so far, then each new one as it happens, then the result, and nothing after", () => {
    const journal = new ExecutionJournal();
    journal.record(ID, entered("Prepare"));
    journal.record(ID, entered("Validate"));
    const got: JournalEntry[] = [];

    journal.follow(ID, (entry) => void got.push(entry));
    expect(story(got)).toEqual(["Prepare", "Validate"]);
    journal.record(ID, entered("DeployCandidate"));
    expect(story(got)).toEqual(["Prepare", "Validate", "DeployCandidate"]);
    journal.end(ID, FAILED);
    journal.record(ID, entered("Cleanup"));
    journal.end(ID, { status: "ABORTED" });

    expect(story(got)).toEqual(["Prepare", "Validate", "DeployCandidate", "result FAILED"]);
    expect(got.at(-1)).toEqual({ result: FAILED });
  });

  it("replays an execution that has ended, result last, to whoever follows it later", () => {
    const journal = new ExecutionJournal();
    journal.record(ID, entered("Prepare"));
    journal.record(ID, entered("Validate"));
    journal.end(ID, { status: "SUCCEEDED", output: {} });
    const got: JournalEntry[] = [];

    journal.follow(ID, (entry) => void got.push(entry));

    expect(story(got)).toEqual(["Prepare", "Validate", "result SUCCEEDED"]);
  });

  it("tells every follower the same story, and stops telling one that stopped following", () => {
    const journal = new ExecutionJournal();
    const first: JournalEntry[] = [];
    const second: JournalEntry[] = [];
    journal.follow(ID, (entry) => void first.push(entry));
    const stopSecond = journal.follow(ID, (entry) => void second.push(entry));
    journal.record(ID, entered("Prepare"));

    stopSecond();
    journal.record(ID, entered("Validate"));
    journal.end(ID, FAILED);

    expect(story(first)).toEqual(["Prepare", "Validate", "result FAILED"]);
    expect(story(second)).toEqual(["Prepare"]);
  });

  it("keeps each execution's story apart, and knows only the executions it has recorded", () => {
    const journal = new ExecutionJournal();
    journal.record(ID, entered("Prepare"));
    journal.record("local:other-v1-89abcdef", entered("Validate"));
    const got: JournalEntry[] = [];

    journal.follow(ID, (entry) => void got.push(entry));

    expect(story(got)).toEqual(["Prepare"]);
    expect(journal.has("local:other-v1-89abcdef")).toBe(true);
    expect(journal.has("local:never-started-v1-00000000")).toBe(false);
  });

  it(`keeps the last ${MAX_TRANSITIONS} transitions and tells a follower how many earlier ones were dropped`, () => {
    const journal = new ExecutionJournal();
    for (let i = 0; i < MAX_TRANSITIONS + 3; i++) journal.record(ID, entered(`CheckCandidate ${i}`));
    journal.end(ID, FAILED);
    const got: JournalEntry[] = [];

    journal.follow(ID, (entry) => void got.push(entry));

    const told = story(got);
    expect(told).toHaveLength(MAX_TRANSITIONS + 2);
    expect(told.slice(0, 2)).toEqual(["dropped 3", "CheckCandidate 3"]);
    expect(told.slice(-2)).toEqual([`CheckCandidate ${MAX_TRANSITIONS + 2}`, "result FAILED"]);
  });
});
