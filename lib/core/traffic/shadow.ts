// Shadow traffic (`rollout.shadow: {percent, seconds}`): after the gates and before any user is answered by the
// candidate, the route mirrors `percent` of the stable's real requests to it for `seconds`, judged by the same
// alarms as a bake. The user's answer always comes from stable; the candidate's answers to the copies are
// thrown away (the local gateway keeps a few, paired with stable's, for the report: shadow-samples.ts). It
// comes before the first canary step (canary, linear) or before the switch (blue/green). A first release has
// no stable whose requests could be mirrored: its plan skips the shadow and says why. Pure.

import type { ShadowSettings } from "../manifest/rollout-settings";

/** A route's mirror: `percent` of the requests the stable answers are copied to `version` (the candidate). */
export interface Mirror {
  readonly version: string;
  readonly percent: number;
}

/**
 * Whether the `count`th request (1-based) the stable serves is copied: exactly `percent` of every 100 in a
 * row, spread evenly (at 20%: the 5th, 10th, 15th …), so a short shadow mirrors its share however the
 * requests arrive, and a test knows which ones.
 */
export function mirrorsRequest(count: number, percent: number): boolean {
  return Math.floor((count * percent) / 100) > Math.floor(((count - 1) * percent) / 100);
}

/** `shadowing 20% of stable's requests to v2 for 60 s, 14 s in` — status's line while a shadow runs. */
export function describeShadowProgress(
  shadow: ShadowSettings & { readonly version: string; readonly since: string },
  now: Date,
): string {
  const elapsed = Math.max(0, Math.floor((now.getTime() - Date.parse(shadow.since)) / 1000));
  return `shadowing ${shadow.percent}% of stable's requests to ${shadow.version} for ${shadow.seconds} s, ${Math.min(elapsed, shadow.seconds)} s in`;
}
