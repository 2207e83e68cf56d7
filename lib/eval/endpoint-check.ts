// Checks that an endpoint answers before a suite is run against it: `GET /models` once, quickly. An
// endpoint that cannot be reached fails here in seconds, with the network's reason, instead of after
// every item has spent its retries. A server without `/models` (a non-200) still counts as reachable.

import { request } from "undici";
import type { Endpoint } from "../ports";
import {
  BodyTooLarge,
  connectionPool,
  describeNetworkError,
  endpointUrl,
  field,
  readCappedText,
} from "./http";

export type EndpointCheck =
  | {
      readonly reachable: true;
      /** The ids `/models` lists, when it answered with a list. */
      readonly models?: readonly string[];
    }
  | { readonly reachable: false; readonly reason: string };

export async function checkEndpoint(endpoint: Endpoint, timeoutMs = 10_000): Promise<EndpointCheck> {
  const dispatcher = connectionPool(endpoint, 1);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const url = endpointUrl(endpoint, "/models");
  try {
    const response = await request(url, {
      headers: { accept: "application/json", ...endpoint.headers },
      signal: timeout.signal,
      dispatcher,
    });
    const text = await readCappedText(response.body, 1024 * 1024);
    if (response.statusCode !== 200) return { reachable: true };
    const data = field(safeJson(text), "data");
    if (!Array.isArray(data)) return { reachable: true };
    const models = data.map((m) => field(m, "id")).filter((id): id is string => typeof id === "string");
    return { reachable: true, models };
  } catch (error) {
    if (error instanceof BodyTooLarge) return { reachable: true };
    const reason = timeout.signal.aborted
      ? `no answer within ${timeoutMs / 1000} s`
      : describeNetworkError(error);
    return { reachable: false, reason: `GET ${url}: ${reason}` };
  } finally {
    clearTimeout(timer);
    await dispatcher.destroy();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
