// A prompt the load generator sends: chat messages and their length in approximate tokens, which stands in
// for the server's `usage.prompt_tokens` when the server sends no usage.

import type { ChatMessage } from "../core/manifest/manifest-schema";

export interface LoadPrompt {
  readonly messages: readonly ChatMessage[];
  readonly estimatedTokens: number;
}

/**
 * Approximate tokens of a text: one per 4 characters, the usual rule of thumb for English with BPE
 * tokenizers (GPT, Llama 3, Mistral). Good to ±30% on prose; code and other languages differ more.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
