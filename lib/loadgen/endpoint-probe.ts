// One cheap request before a load run: is anything answering at the base URL, which models does it list,
// and with what context (vLLM lists each model's `max_model_len`)? A refused connection then reads as "the
// endpoint is unreachable", not as thousands of failed requests.

import { Agent, request } from "undici";
import { openAiRoute } from "./endpoint-url";

export type ProbeResult =
  | {
      readonly reachable: true;
      readonly status: number;
      readonly models?: readonly string[];
      /** Tokens of context per listed model id, for the models whose entry has `max_model_len`. */
      readonly maxModelLen?: Readonly<Record<string, number>>;
    }
  | { readonly reachable: false; readonly detail: string };

const PROBE_TIMEOUT_MS = 10_000;
const MAX_LISTING_BYTES = 1024 * 1024;

/** `GET <base>/v1/models`; any HTTP answer means reachable, and a 200 listing gives the model ids. */
export async function probeEndpoint(
  baseUrl: string,
  headers: Readonly<Record<string, string>> = {},
  caCertificate?: string,
): Promise<ProbeResult> {
  const { origin, path } = openAiRoute(baseUrl, "models");
  const dispatcher = new Agent(caCertificate ? { connect: { ca: caCertificate } } : {});
  try {
    const response = await request(`${origin}${path}`, {
      method: "GET",
      headers: { accept: "application/json", ...headers },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      dispatcher,
    });
    const length = Number(response.headers["content-length"] ?? 0);
    if (response.statusCode !== 200 || length > MAX_LISTING_BYTES) {
      await response.body.dump();
      return { reachable: true, status: response.statusCode };
    }
    const listing = readListing(await response.body.text().catch(() => ""));
    return { reachable: true, status: 200, ...listing };
  } catch (error) {
    return { reachable: false, detail: describeProbeError(error) };
  } finally {
    await dispatcher.close();
  }
}

/** The ids a `/v1/models` listing names, and each one's `max_model_len` where it has one. */
function readListing(text: string): { models?: string[]; maxModelLen?: Record<string, number> } {
  let data: unknown;
  try {
    data = (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    return {};
  }
  if (!Array.isArray(data)) return {};
  const models: string[] = [];
  const maxModelLen: Record<string, number> = {};
  for (const entry of data as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { id, max_model_len: length } = entry as { id?: unknown; max_model_len?: unknown };
    if (typeof id !== "string") continue;
    models.push(id);
    if (typeof length === "number" && Number.isSafeInteger(length) && length > 0) maxModelLen[id] = length;
  }
  return { models, ...(Object.keys(maxModelLen).length > 0 ? { maxModelLen } : {}) };
}

function describeProbeError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") {
    return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  }
  if (!(error instanceof Error)) return String(error);
  const code = "code" in error ? String(error.code) : "";
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
