// A sticky canary through the real local gateway in front of two real llama.cpp servers (tiny generated
// GGUFs, v1 stable and v2 candidate): while the candidate's weight moves 25 → 50 → 75 with the rollout's
// stickiness `{header: x-session-id}`, a conversation (the same header value, request after request) never
// changes version — one that started on the candidate stays there, one whose key lies above 75 stays on the
// stable — conversations only ever move from stable to candidate, and requests without the header are still
// split by the weights. A rollback (the stable promoted again) sends every conversation to the stable.
// Nothing is left running.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stickyPoint } from "../../lib/core/traffic/sticky-routing";
import type { LocalGateway } from "../../lib/local/gateway/local-gateway";
import type { CandidateHandle } from "../../lib/ports";
import { isRunning } from "../support/process-alive";
import {
  deployTinyVersion,
  serveTinyGgufBehindGateway,
  type TinyGgufBehindGateway,
} from "../support/tiny-gguf-behind-gateway";

const MODEL = "tiny";
const STICKINESS = { header: "x-session-id" };
const SESSIONS = Array.from({ length: 24 }, (_, i) => `chat-${i}`);
/** Where a session's key lies in the split of this rollout (candidate v2): below the weight → candidate. */
const pointOf = (session: string) => stickyPoint(MODEL, "v2", session);
/** A session on the candidate from 25% on, and one on the stable up to 75%: neither may ever switch. */
const EARLY = Array.from({ length: 500 }, (_, i) => `early-${i}`).find((s) => pointOf(s) < 25) as string;
const LATE = Array.from({ length: 500 }, (_, i) => `late-${i}`).find((s) => pointOf(s) >= 75) as string;

let work: string;
let served: TinyGgufBehindGateway | undefined;
let gateway: LocalGateway;
let candidate: CandidateHandle;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "modelship-sticky-llama-"));
  served = await serveTinyGgufBehindGateway(work, { model: MODEL, seed: 4 });
  gateway = served.gateway;
  candidate = await deployTinyVersion(served.serving, work, { model: MODEL, version: "v2", seed: 5 });
  await gateway.register(MODEL, candidate, STICKINESS);
});

afterAll(async () => {
  await served?.close();
  const pid = candidate?.details?.["pid"] as number | undefined;
  if (pid) expect(isRunning(pid)).toBe(false);
  await rm(work, { recursive: true, force: true });
});

/** One turn of a chat through the gateway; the version that answered it. */
async function turn(headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "hello" }],
      max_tokens: 1,
      temperature: 0,
    }),
  });
  expect(response.status).toBe(200);
  await response.json();
  return response.headers.get("x-modelship-version") ?? "none";
}

/** The versions `turns` turns of one conversation went to. */
async function conversation(session: string, turns: number): Promise<Set<string>> {
  const versions = new Set<string>();
  for (let i = 0; i < turns; i++) versions.add(await turn({ "x-session-id": session }));
  return versions;
}

describe("A sticky canary through the local gateway and llama.cpp", () => {
  it("keeps every conversation on one version at each weight, moving conversations only to the candidate", async () => {
    const bySession: Record<string, string>[] = [];
    for (const weight of [25, 50, 75]) {
      await gateway.setWeights(MODEL, { stable: 100 - weight, candidate: weight }, STICKINESS);
      expect(await conversation(EARLY, 10), `${EARLY} at ${weight}%`).toEqual(new Set(["v2"]));
      expect(await conversation(LATE, 10), `${LATE} at ${weight}%`).toEqual(new Set(["v1"]));
      const versions: Record<string, string> = {};
      for (const session of SESSIONS) {
        const answered = await conversation(session, 3);
        expect(answered.size, `${session} at ${weight}%`).toBe(1);
        versions[session] = [...answered][0] as string;
        // The key's point decides, whatever the draw: below the weight on the candidate, else the stable.
        expect(versions[session], session).toBe(pointOf(session) < weight ? "v2" : "v1");
      }
      bySession.push(versions);
    }
    for (const session of SESSIONS) {
      const path = bySession.map((versions) => versions[session]);
      // v1 → v2 at most once, never back: once on the candidate, on it at every higher weight.
      const joined = path.indexOf("v2");
      if (joined >= 0) expect(path.slice(joined), session).toEqual(path.slice(joined).map(() => "v2"));
    }
  });

  it("still splits requests without the header by the weights", async () => {
    await gateway.setWeights(MODEL, { stable: 50, candidate: 50 }, STICKINESS);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const version = await turn();
      counts[version] = (counts[version] ?? 0) + 1;
    }
    // 50% of 200 is 100; a binomial draw stays within ±4 standard deviations (~28) of it.
    expect(counts["v2"]).toBeGreaterThan(100 - 28);
    expect(counts["v2"]).toBeLessThan(100 + 28);
    expect((counts["v1"] ?? 0) + (counts["v2"] ?? 0)).toBe(200);
  });

  it("sends every conversation to the stable once the canary is rolled back", async () => {
    await gateway.setWeights(MODEL, { stable: 25, candidate: 75 }, STICKINESS);
    expect(await conversation(EARLY, 2)).toEqual(new Set(["v2"]));
    // Rollback's route change: the stable takes 100% again, then the candidate leaves the route.
    await gateway.promote(MODEL, "v1");
    expect(await conversation(EARLY, 5)).toEqual(new Set(["v1"]));
    await gateway.removeBackend(MODEL, "v2");
    expect(await conversation(EARLY, 2)).toEqual(new Set(["v1"]));
  });
});
