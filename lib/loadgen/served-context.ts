// The context a server says it serves a model with — the tokens a prompt and its answer must fit in together
// — so a load that cannot fit is refused before it is sent instead of failing every request:
//   - vLLM (and modelship's own llama.cpp server, and its local gateway) list `max_model_len` for each model
//     in `GET /v1/models`;
//   - llama.cpp's server lists only the trained context (`meta.n_ctx_train`), which is not what it serves
//     with; its `GET /props` has the context of one request slot in `default_generation_settings.n_ctx`.
// A server that says neither leaves the context unknown, and nothing is refused for it.

import type { ProbeResult } from "./endpoint-probe";
import { field, jsonOf, type ServerRequests } from "./server-requests";

export interface ServedContext {
  readonly tokens: number;
  /** Where the number comes from, for a person: `max_model_len in GET /v1/models`. */
  readonly from: string;
}

/** The model's context from the probe's listing, else from llama.cpp's `/props`; undefined when neither says. */
export async function servedContext(
  probe: ProbeResult,
  model: string,
  server: ServerRequests,
): Promise<ServedContext | undefined> {
  const listed = probe.reachable ? probe.maxModelLen?.[model] : undefined;
  if (listed !== undefined) return { tokens: listed, from: "max_model_len in GET /v1/models" };
  const props = jsonOf(await server.root("GET", "props"));
  const slot = field(field(props, "default_generation_settings"), "n_ctx");
  if (typeof slot === "number" && Number.isSafeInteger(slot) && slot > 0) {
    return { tokens: slot, from: "default_generation_settings.n_ctx in GET /props" };
  }
  return undefined;
}
