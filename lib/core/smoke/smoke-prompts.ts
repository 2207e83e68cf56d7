// What the smoke test sends: the manifest's prompts, or a default set that exercises the three ways a
// model is used (a chat, a plain completion, a short instruction). Whatever the prompts, at least one is a
// chat (it proves the chat template) and the first chat is also sent streamed (it proves SSE streaming and
// gives TTFT and tokens/s).

import type { ResolvedSmokeGate, SmokePrompt } from "../manifest/manifest-schema";

/** Enough tokens to judge an answer, few enough to keep the smoke test quick on any server. */
export const DEFAULT_SMOKE_MAX_TOKENS = 32;

const DEFAULT_CHAT: SmokePrompt = {
  messages: [{ role: "user", content: "Hello! In one sentence, what can you help me with?" }],
};

const DEFAULT_SMOKE_PROMPTS: readonly SmokePrompt[] = [
  DEFAULT_CHAT,
  { prompt: "The three primary colors are", maxTokens: 16 },
  {
    messages: [
      { role: "system", content: "You answer briefly." },
      { role: "user", content: "Name two planets of the solar system, separated by a comma." },
    ],
  },
];

export interface SmokeRequest {
  /** Where the prompt comes from, for findings: `gates.smoke.prompts[1]` or `default prompt 2`. */
  readonly source: string;
  readonly prompt: SmokePrompt;
  readonly stream: boolean;
}

/** The requests the smoke test sends for this gate, in order. */
export function planSmokeRequests(gate: ResolvedSmokeGate): SmokeRequest[] {
  const fromManifest = gate.prompts.length > 0;
  const requests: SmokeRequest[] = (fromManifest ? gate.prompts : DEFAULT_SMOKE_PROMPTS).map((prompt, i) => ({
    source: fromManifest ? `gates.smoke.prompts[${i}]` : `default prompt ${i + 1}`,
    prompt,
    stream: false,
  }));
  let firstChat = requests.find((r) => r.prompt.messages !== undefined);
  if (!firstChat) {
    firstChat = {
      source: "default chat prompt (the manifest's prompts have no chat)",
      prompt: DEFAULT_CHAT,
      stream: false,
    };
    requests.push(firstChat);
  }
  requests.push({ ...firstChat, stream: true });
  return requests;
}
