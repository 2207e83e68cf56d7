// Synthetic prompts of a target length: random common English words, one approximate token each, so a run
// can ask for "512-token prompts" without a dataset. Every prompt differs from its first word, so a server's
// prefix cache helps no more than it would with real traffic. Seeded, so a rerun sends the same prompts.

import type { LoadPrompt } from "./load-prompt";
import { type Random, seededRandom } from "./random";

export interface SyntheticPromptOptions {
  /** The target length in approximate tokens. */
  readonly inputTokens: number;
  /** Relative spread: lengths are uniform in inputTokens · [1 − spread, 1 + spread]. 0 = all the same length. */
  readonly spread: number;
  readonly seed: number;
}

/**
 * Short, frequent words: each, with its leading space, is a single token in the Llama 3, GPT-4o and Mistral
 * vocabularies, so N words make about N tokens (the chat template adds a few more).
 */
const WORDS = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an " +
  "they you were her she there been one all we their has would when if so no will more can said who its " +
  "time first new some could them these two may then do any like my now over such our man me even most " +
  "made after also did many before must through back years where much your way well down should because " +
  "each just those people how too little state good very make world still own see men work long get here " +
  "between both life being under never day same another know while last might us great old year off come " +
  "since against go came right used take three house small place found water city light river music story"
).split(" ");

/** A source of synthetic prompts: each call returns the next one. */
export function syntheticPrompts(options: SyntheticPromptOptions): () => LoadPrompt {
  const random = seededRandom(options.seed);
  const low = Math.max(1, Math.round(options.inputTokens * (1 - options.spread)));
  const high = Math.max(low, Math.round(options.inputTokens * (1 + options.spread)));
  return () => {
    const length = low + Math.floor(random() * (high - low + 1));
    return {
      messages: [{ role: "user", content: randomWords(random, length) }],
      estimatedTokens: length,
    };
  };
}

function randomWords(random: Random, count: number): string {
  const words = new Array<string>(count);
  for (let i = 0; i < count; i++) words[i] = WORDS[Math.floor(random() * WORDS.length)] as string;
  return words.join(" ");
}
