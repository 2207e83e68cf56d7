// Whether a version of a model serves — or ever served: took traffic, or could have (it was on the model's
// route) — as its rollout record tells. A version that never served (it failed in its gates, or never
// started) may be uploaded again under the same name, as a new upload of the same S3 key is a new object
// version; one that served may not. A version is forgotten only once it no longer serves.

import type { ModelRecord } from "./rollout";

/** Why the version serves now — a sentence's clause — or undefined when it does not. */
export function whyVersionServes(record: ModelRecord | undefined, version: string): string | undefined {
  if (!record) return undefined;
  if (record.stable?.version === version || record.stableVersion === version)
    return "it is the stable version";
  if (record.previousStable?.version === version) return "it is kept warm as the previous stable version";
  if (record.candidate?.version === version) return "it is the candidate on the model's route";
  return undefined;
}

/** Why the version counts as having served — now or before — or undefined when it never did. */
export function whyVersionServed(record: ModelRecord | undefined, version: string): string | undefined {
  const now = whyVersionServes(record, version);
  if (now !== undefined) return now;
  const joined = record?.history.find((t) => t.version === version && t.stage === "RegisterGateway");
  return joined ? `it joined the model's route at ${joined.at} (rollout ${joined.rolloutId})` : undefined;
}
