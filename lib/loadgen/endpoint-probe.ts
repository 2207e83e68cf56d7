// One cheap request before a load run: is anything answering at the base URL, and which models does it
// list? A refused connection then reads as "the endpoint is unreachable", not as thousands of failed requests.

import { Agent, request } from "undici";
import { openAiRoute } from "./endpoint-url";

export type ProbeResult =
  | { readonly reachable: true; readonly status: number; readonly models?: readonly string[] }
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
    const models = listedModels(await response.body.text().catch(() => ""));
    return { reachable: true, status: 200, ...(models ? { models } : {}) };
  } catch (error) {
    return { reachable: false, detail: describeProbeError(error) };
  } finally {
    await dispatcher.close();
  }
}

function listedModels(text: string): string[] | undefined {
  try {
    const data = (JSON.parse(text) as { data?: unknown }).data;
    if (!Array.isArray(data)) return undefined;
    return data
      .map((m: unknown) => (typeof m === "object" && m !== null ? (m as { id?: unknown }).id : undefined))
      .filter((id): id is string => typeof id === "string");
  } catch {
    return undefined;
  }
}

function describeProbeError(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") {
    return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  }
  if (!(error instanceof Error)) return String(error);
  const code = "code" in error ? String(error.code) : "";
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
