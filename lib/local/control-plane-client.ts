// How a command run beside the local control plane talks to it: finds it by `<home>/control-plane.json`,
// calls its admin API on 127.0.0.1 with the secret it wrote into `<home>/admin-token`, and turns "not running", "not answering" and refusals into errors whose
// message says what to do.

import { AdminSecretUnreadable, readAdminSecret } from "./admin-auth";
import { type ControlPlaneInfo, findRunningControlPlane } from "./control-plane-file";
import type { JournalEntry } from "./execution-journal";

/** The control plane answered with an error, or could not be reached; the message is for the user. */
export class ControlPlaneRefused extends Error {
  override readonly name = "ControlPlaneRefused";
  constructor(
    message: string,
    /** The HTTP status of the refusal, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

export class ControlPlaneClient {
  /** The control plane running for this home; NoControlPlane (saying how to start one) when there is none. */
  static async connect(home: string): Promise<ControlPlaneClient> {
    const info = await findRunningControlPlane(home);
    try {
      return new ControlPlaneClient(info, await readAdminSecret(home));
    } catch (error) {
      if (error instanceof AdminSecretUnreadable) throw new ControlPlaneRefused(error.message);
      throw error;
    }
  }

  private constructor(
    readonly info: ControlPlaneInfo,
    private readonly secret: string,
  ) {}

  /** The gateway's base URL (OpenAI clients use `${url}/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.info.gatewayPort}`;
  }

  /** Sends a request to `/_modelship/<path>` and returns the JSON answer; a 4xx/5xx becomes ControlPlaneRefused. */
  async call<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    const answer = (await response.json().catch(() => undefined)) as
      (T & { error?: { message?: string } }) | undefined;
    if (!answer) {
      throw new ControlPlaneRefused(
        `The control plane answered ${response.status} without JSON.`,
        response.status,
      );
    }
    if (!response.ok && answer.error?.message) {
      throw new ControlPlaneRefused(answer.error.message, response.status);
    }
    return answer;
  }

  /** Follows an execution: each entry of its journal, as it happens, until its result. */
  async *follow(executionId: string, signal?: AbortSignal): AsyncGenerator<JournalEntry> {
    const response = await this.send(
      "GET",
      `executions/${encodeURIComponent(executionId)}`,
      undefined,
      signal,
    );
    if (!response.ok || !response.body) {
      const answer = (await response.json().catch(() => undefined)) as
        { error?: { message?: string } } | undefined;
      throw new ControlPlaneRefused(
        answer?.error?.message ?? `Following ${executionId} was refused (${response.status}).`,
        response.status,
      );
    }
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== "") yield JSON.parse(line) as JournalEntry;
      }
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    try {
      const authorization = `Bearer ${this.secret}`;
      return await fetch(`${this.url}/_modelship/${path}`, {
        method,
        ...(body === undefined
          ? { headers: { authorization } }
          : {
              headers: { authorization, "content-type": "application/json" },
              body: JSON.stringify(body),
            }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      const cause = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      throw new ControlPlaneRefused(
        `The local control plane (pid ${this.info.pid}) does not answer on 127.0.0.1:${this.info.gatewayPort}: ${cause}. If it has stopped, start it again with \`modelship local\`.`,
      );
    }
  }
}
