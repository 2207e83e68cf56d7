// Sticky canaries (`rollout.stickiness`): a request that carries the conversation's key — a header or a
// cookie the client sends with every turn — goes to the version its key hashes to, so a multi-turn chat does
// not change models half-way while the canary's weights move. The key is hashed to a point in [0, 100) and
// the request goes to the candidate iff the point is below the candidate's weight: raising the weight only
// moves keys from stable to candidate, never back, and the share of keys on the candidate is the weight.
// A candidate at 0% (not yet on the split, or rolled back) gets no key at all. Pure; the local gateway's
// route table applies it, and lib/aws/gateway maps the setting to Gateway API session persistence.

import { createHash } from "node:crypto";
import { HTTP_TOKEN_PATTERN, type Stickiness } from "../manifest/rollout-settings";

/**
 * Headers that cannot carry a conversation's key: modelship's own (the variant header a test uses to pick a
 * version, the ones the gateway adds and reads), the headers that frame or route the request itself, and
 * `cookie` (name the cookie instead).
 */
const NOT_A_KEY_HEADER: Readonly<Record<string, string>> = {
  host: "it names the server, the same for every request",
  cookie: "it holds every cookie at once: name the cookie instead (stickiness: {cookie: <name>})",
  "content-length": "it frames the request body",
  "content-type": "it describes the request body",
  "transfer-encoding": "it frames the request body",
  connection: "it is hop-by-hop: proxies drop it",
  "keep-alive": "it is hop-by-hop: proxies drop it",
  te: "it is hop-by-hop: proxies drop it",
  trailer: "it is hop-by-hop: proxies drop it",
  upgrade: "it is hop-by-hop: proxies drop it",
};

/** Why `name` cannot be the stickiness header (`modelHeader`: the header the gateway routes models by), or undefined. */
export function unusableStickinessHeader(name: string, modelHeader: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower.startsWith("x-modelship-")) {
    return "modelship uses the x-modelship- headers itself (x-modelship-variant picks a version for tests; the gateway adds x-modelship-version)";
  }
  if (modelHeader !== "" && lower === modelHeader.toLowerCase()) {
    return `it is the header the gateway routes models by (the stack's gateway.modelHeader): every request of the model carries the same value`;
  }
  return NOT_A_KEY_HEADER[lower];
}

/** True for `{header: <name>}` or `{cookie: <name>}` with a valid name: a stickiness read back from a file. */
export function isStickiness(value: unknown): value is Stickiness {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    entries.length === 1 &&
    (entries[0]?.[0] === "header" || entries[0]?.[0] === "cookie") &&
    typeof entries[0][1] === "string" &&
    HTTP_TOKEN_PATTERN.test(entries[0][1])
  );
}

/** `header x-session-id` / `cookie session`: how messages and status name the setting. */
export function describeStickiness(stickiness: Stickiness): string {
  return "header" in stickiness ? `header ${stickiness.header}` : `cookie ${stickiness.cookie}`;
}

/**
 * The request's key for `stickiness`, or undefined when it carries none (then it is split by weight). Header
 * names are case-insensitive (`headers` as Node gives them: lowercased, repeats joined or listed); cookie
 * names are case-sensitive, and the first cookie of that name counts.
 */
export function stickyKey(
  stickiness: Stickiness,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): string | undefined {
  if ("header" in stickiness) return nonEmpty(joined(headers[stickiness.header.toLowerCase()]));
  const cookies = joined(headers["cookie"]);
  if (cookies === undefined) return undefined;
  for (const pair of cookies.split(/;\s*/)) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== stickiness.cookie) continue;
    return nonEmpty(unquoted(pair.slice(equals + 1).trim()));
  }
  return undefined;
}

/**
 * Where `key` falls in [0, 100) for this model's candidate. The candidate version salts the hash, so each
 * rollout's canary cohort is a different share of the users rather than the same ones every time; within a
 * rollout it never changes, whatever the weights. 48 bits of SHA-256: uniform, and exact in a double.
 */
export function stickyPoint(model: string, candidateVersion: string, key: string): number {
  const digest = createHash("sha256").update(`${model}\n${candidateVersion}\n${key}`).digest();
  return (digest.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/** The variant a key at `point` goes to while the candidate has `candidateWeight` percent. */
export function stickyVariant(point: number, candidateWeight: number): "stable" | "candidate" {
  return point < candidateWeight ? "candidate" : "stable";
}

function joined(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === "string" ? value : value?.join(", ");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function unquoted(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
