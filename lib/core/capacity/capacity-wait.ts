// The bounded wait for capacity before a rollout deploys anything (issue 13 §2): each look at the cluster —
// the capacity plan's need against what is free — decides whether the rollout deploys now, waits and looks
// again, or has waited its `rollout.capacityWaitSeconds` and fails InsufficientCapacity. The state machine
// does the waiting (a Wait state between looks); the deadline is carried in the execution's state as the
// time of the first look, so a retried look, or a look after a deploy refused for capacity, counts from the
// same start and the loop ends however often it runs.

/**
 * The most looks one wait takes: a look costs about nine history events (Task, Lambda, Choice, Wait), so the
 * wait stays a small part of Step Functions' 25,000 per execution whatever its bound; a longer bound looks
 * less often instead.
 */
const MAX_CAPACITY_CHECKS = 500;

/** Seconds between looks: the readiness poll's, or longer when the bound would need more looks than allowed. */
export function capacityPollSeconds(waitSeconds: number, readinessPollSeconds: number): number {
  return Math.max(1, readinessPollSeconds, Math.ceil(waitSeconds / MAX_CAPACITY_CHECKS));
}

export interface CapacityLook {
  /** Whether the cluster holds what the plan needs now. */
  readonly enough: boolean;
  /** When the wait began: the first look's time (ISO); absent on the first look. */
  readonly since?: string;
  readonly now: Date;
  /** `rollout.capacityWaitSeconds`; 0 fails at the first look that finds too little. */
  readonly waitSeconds: number;
  /**
   * A deploy was refused for capacity after a look found enough (the capacity went to someone else in
   * between): past the deadline that ends the wait too, so the loop is bounded even when looks and deploys
   * disagree.
   */
  readonly refused?: boolean;
}

export type CapacityWaitDecision =
  | { readonly kind: "deploy"; readonly since: string; readonly waitedSeconds: number }
  | { readonly kind: "wait"; readonly since: string; readonly until: string; readonly waitedSeconds: number }
  | { readonly kind: "exhausted"; readonly since: string; readonly waitedSeconds: number };

/** What one look decides: deploy, wait until `until`, or stop waiting. */
export function decideCapacityWait(look: CapacityLook): CapacityWaitDecision {
  const since = look.since ?? look.now.toISOString();
  const start = Date.parse(since);
  const until = start + look.waitSeconds * 1000;
  const waitedSeconds = Math.max(0, Math.round((look.now.getTime() - start) / 1000));
  const pastDeadline = look.now.getTime() >= until;
  if (look.enough && !(look.refused && pastDeadline)) return { kind: "deploy", since, waitedSeconds };
  if (pastDeadline) return { kind: "exhausted", since, waitedSeconds };
  return { kind: "wait", since, until: new Date(until).toISOString(), waitedSeconds };
}

/** `42 s`, `15 min`, `1 h 30 min`: how long a wait is, for a sentence. */
export function describeWaitSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}
