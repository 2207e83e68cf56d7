// The local gateway's shadow: copies of a share of the requests the stable serves, sent to the candidate's
// server fire and forget. The user's request is forwarded to the stable exactly as without a shadow and never
// waits on its copy; a copy that is slow, fails or cannot be sent changes nothing for the user. Copies in
// flight are bounded (over the bound a copy is dropped and counted), each has a deadline, and closing the
// gateway cuts them. A copy reaches the candidate's server like any request, so the server's own metrics —
// which the real-traffic alarms read — count it; the candidate variant's injected fault applies to it as to any
// request the candidate serves. The stable's and the candidate's answers to the same request are paired into a
// bounded sample (core/traffic/shadow-samples.ts) that the report shows.

import { setTimeout as sleep } from "node:timers/promises";
import { mirrorsRequest } from "../../core/traffic/shadow";
import {
  requestText,
  SHADOW_CAPTURE_BYTES,
  type ShadowAnswer,
  ShadowSampleBook,
  type ShadowSamples,
  shadowAnswer,
} from "../../core/traffic/shadow-samples";
import type { CandidateHandle, Endpoint } from "../../ports";
import { decideFault, type Fault, withServerDelay } from "./fault-injection";
import { type ForwardedRequest, openUpstream, type Upstream } from "./forwarding";

/** Copies in flight at once, all models together: past it a copy is dropped, so a slow candidate costs no memory. */
export const MAX_MIRRORS_IN_FLIGHT = 8;
/** The longest a copy may take: past it, it is cut and counted as failed. */
const MIRROR_TIMEOUT_MS = 120_000;

interface MirrorDeps {
  readonly endpointOf: (handle: CandidateHandle) => Promise<Endpoint>;
  readonly agents: Upstream["agents"];
  readonly faultOf: (model: string) => Fault | undefined;
  readonly random: () => number;
}

/** What to do with one request the stable serves: nothing, or pair its answer with its copy's. */
export interface MirrorDecision {
  /** Sees the stable's answer as it streams to the user (its first SHADOW_CAPTURE_BYTES are kept). */
  readonly tap: (chunk: Buffer) => void;
  /** Called once the stable's answer is over, with its status (none when it never came). */
  readonly stableDone: (status: number | undefined, error?: string) => void;
}

export class RequestMirrors {
  private readonly books = new Map<string, ShadowSampleBook>();
  private readonly counts = new Map<string, number>();
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly deps: MirrorDeps,
    private readonly maxInFlight = MAX_MIRRORS_IN_FLIGHT,
  ) {}

  /** A shadow of `version` starts (or goes on, after a restart): a new one gets a new sample book. */
  started(model: string, version: string, percent: number): void {
    const book = this.books.get(model);
    if (!book || book.version !== version || book.percent !== percent) {
      this.books.set(model, new ShadowSampleBook(version, percent));
      this.counts.set(model, 0);
    }
  }

  /** What was kept of the model's last shadow (kept after it ends, for the report). */
  samples(model: string): ShadowSamples {
    return (
      this.books.get(model)?.samples() ?? {
        unavailable: `the local gateway has mirrored no request of ${model} since it started (its samples live in memory only).`,
      }
    );
  }

  /**
   * For a request the stable serves while the route mirrors `percent` to `candidate`: undefined when this one
   * is not copied; otherwise the copy is on its way (or dropped, over the bound) and the decision pairs it.
   */
  mirror(
    model: string,
    candidate: CandidateHandle,
    percent: number,
    request: ForwardedRequest,
    body: Readonly<Record<string, unknown>>,
  ): MirrorDecision | undefined {
    this.started(model, candidate.version, percent);
    const book = this.books.get(model) as ShadowSampleBook;
    const count = (this.counts.get(model) ?? 0) + 1;
    this.counts.set(model, count);
    if (!mirrorsRequest(count, percent)) return undefined;
    if (this.inFlight.size >= this.maxInFlight) {
      book.dropped++;
      return undefined;
    }
    book.mirrored++;
    const at = new Date();
    const started = performance.now();
    const abort = new AbortController();
    this.inFlight.add(abort);
    const copy = this.sendCopy(model, candidate, request, abort.signal)
      .then((answer) => {
        if (answer.error !== undefined) book.failed++;
        return answer;
      })
      .finally(() => this.inFlight.delete(abort));
    const captured: Buffer[] = [];
    let capturedBytes = 0;
    return {
      tap: (chunk) => {
        if (capturedBytes >= SHADOW_CAPTURE_BYTES) return;
        captured.push(chunk.subarray(0, SHADOW_CAPTURE_BYTES - capturedBytes));
        capturedBytes += chunk.length;
      },
      stableDone: (status, error) => {
        const stable = shadowAnswer(status, Buffer.concat(captured), performance.now() - started, error);
        void copy.then((candidateAnswer) =>
          book.add({ at: at.toISOString(), request: requestText(body), stable, candidate: candidateAnswer }),
        );
      },
    };
  }

  /** Cuts every copy in flight (the gateway is closing). */
  close(): void {
    for (const abort of this.inFlight) abort.abort();
  }

  /** Sends the copy to the candidate's server and reads (the start of) its answer; never throws. */
  private async sendCopy(
    model: string,
    candidate: CandidateHandle,
    request: ForwardedRequest,
    signal: AbortSignal,
  ): Promise<ShadowAnswer> {
    const started = performance.now();
    const failed = (error: string, status?: number) =>
      shadowAnswer(status, new Uint8Array(), performance.now() - started, error);
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(MIRROR_TIMEOUT_MS)]);
    try {
      const fault = decideFault(this.deps.faultOf(model), this.deps.random);
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { signal: deadline });
      if (fault.abortStatus !== undefined) {
        return failed(`aborted by a fault injected into the candidate`, fault.abortStatus);
      }
      const endpoint = withServerDelay(await this.deps.endpointOf(candidate), fault.serverDelay);
      const { status, body } = await exchange(request, endpoint, this.deps.agents, deadline);
      return shadowAnswer(status, body, performance.now() - started);
    } catch (error) {
      return failed(
        deadline.aborted && !signal.aborted
          ? `no answer within ${MIRROR_TIMEOUT_MS / 1000} s`
          : `the copy could not be sent (${(error as Error).message})`,
      );
    }
  }
}

/** One request to the server: its status and the first SHADOW_CAPTURE_BYTES of its answer (the rest is read and dropped). */
function exchange(
  request: ForwardedRequest,
  endpoint: Endpoint,
  agents: Upstream["agents"],
  signal: AbortSignal,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const { toServer } = openUpstream(request, { endpoint, agents }, signal);
    toServer.on("response", (answer) => {
      const kept: Buffer[] = [];
      let size = 0;
      answer.on("data", (chunk: Buffer) => {
        if (size < SHADOW_CAPTURE_BYTES) kept.push(chunk.subarray(0, SHADOW_CAPTURE_BYTES - size));
        size += chunk.length;
      });
      answer.once("end", () => resolve({ status: answer.statusCode ?? 502, body: Buffer.concat(kept) }));
      answer.once("error", reject);
    });
    toServer.once("error", reject);
    toServer.end(request.body);
  });
}
