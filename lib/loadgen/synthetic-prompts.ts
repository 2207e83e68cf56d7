// Synthetic prompts of a target length: random common English words, so a run can ask for "512-token
// prompts" without a dataset. Every prompt differs from its first words on, so a server's prefix cache helps
// no more than it would with real traffic. Seeded, so a rerun sends the same prompts.
//
// How long a word is in tokens depends on the model's tokenizer (one token each in Llama 3's vocabulary,
// three or four in a byte-level one), and the chat template adds tokens of its own. With a calibration — what
// the server counts for a prompt of each calibration word alone (template included) and what each further
// word adds (prompt-calibration.ts measures it) — a prompt is composed to the exact number of tokens the
// server will count. Without one, N words stand for N tokens: an estimate, good only for vocabularies where
// these words are one token each.

import type { LoadPrompt } from "./load-prompt";
import { type Random, seededRandom } from "./random";

/** What a server counts for prompts made of the calibration words. */
export interface WordCosts {
  /** Tokens the server counts for a prompt of this word alone: the chat template and the word. */
  readonly firstWord: Readonly<Record<string, number>>;
  /** Tokens each further word adds, its leading space included; a word adding none is not used. */
  readonly nextWord: Readonly<Record<string, number>>;
}

export interface SyntheticPromptOptions {
  /** The target length: tokens as the server counts them (with `costs`), else approximate tokens. */
  readonly inputTokens: number;
  /** Relative spread: lengths are uniform in inputTokens · [1 − spread, 1 + spread]. 0 = all the same length. */
  readonly spread: number;
  readonly seed: number;
  /** The server's word costs: prompts are composed to the exact length it will count. */
  readonly costs?: WordCosts;
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

/**
 * The words a calibration measures and a calibrated prompt is made of: the first twenty, short ones of one to
 * four letters, so that with a byte-level vocabulary their costs run from 1 to 4 tokens and any remainder can
 * be filled exactly.
 */
export const CALIBRATION_WORDS: readonly string[] = WORDS.slice(0, 20);

/** A source of synthetic prompts: each call returns the next one. */
export function syntheticPrompts(options: SyntheticPromptOptions): () => LoadPrompt {
  const random = seededRandom(options.seed);
  const low = Math.max(1, Math.round(options.inputTokens * (1 - options.spread)));
  const high = Math.max(low, Math.round(options.inputTokens * (1 + options.spread)));
  const composer = options.costs ? new PromptComposer(options.costs) : undefined;
  return () => {
    const length = low + Math.floor(random() * (high - low + 1));
    if (composer) {
      const { text, tokens } = composer.compose(length, random);
      return { messages: [{ role: "user", content: text }], estimatedTokens: tokens };
    }
    return {
      messages: [{ role: "user", content: randomWords(random, length) }],
      estimatedTokens: length,
    };
  };
}

/** Composes prompts of an exact token count from the calibration words' costs. */
export class PromptComposer {
  /** The fewest tokens a prompt can have: the cheapest first word with the template. */
  readonly shortest: number;
  private readonly first: readonly (readonly [string, number])[];
  private readonly next: readonly (readonly [string, number])[];
  /** reachable[r]: some words add exactly r tokens; filled up to `exactUpTo`. */
  private readonly reachable: boolean[];
  private readonly exactUpTo: number;

  constructor(costs: WordCosts) {
    const counted = (record: Readonly<Record<string, number>>) =>
      Object.entries(record).filter(([, cost]) => Number.isSafeInteger(cost) && cost >= 1);
    this.first = counted(costs.firstWord);
    this.next = counted(costs.nextWord);
    if (this.first.length === 0 || this.next.length === 0) {
      throw new Error("Word costs need at least one first word and one further word of cost 1 or more.");
    }
    this.shortest = Math.min(...this.first.map(([, cost]) => cost));
    // Past a few of the largest words, random words may be drawn freely: what is left can still be made exact.
    const largest = Math.max(...this.next.map(([, cost]) => cost));
    this.exactUpTo = Math.max(32, 4 * largest);
    this.reachable = [true];
    for (let r = 1; r <= this.exactUpTo; r++) {
      this.reachable[r] = this.next.some(([, cost]) => cost <= r && this.reachable[r - cost] === true);
    }
  }

  /**
   * A prompt of `tokens` tokens, or the nearest length the words can make (never below `shortest`), and its
   * length as the server will count it.
   */
  compose(tokens: number, random: Random): { text: string; tokens: number } {
    const fits = this.first.filter(([, cost]) => cost <= tokens);
    const exact = fits.filter(([, cost]) => this.canFill(tokens - cost));
    const [firstWord, firstCost] = pick(exact.length > 0 ? exact : fits, random) ?? this.cheapestFirst();
    const words = [firstWord];
    let left = tokens - firstCost;
    while (left > this.exactUpTo) {
      const [word, cost] = pick(this.next, random) as readonly [string, number];
      words.push(word);
      left -= cost;
    }
    let fill = this.nearestReachable(Math.max(0, left));
    const made = tokens - left + fill;
    while (fill > 0) {
      const fitting = this.next.filter(([, cost]) => cost <= fill && this.reachable[fill - cost] === true);
      const [word, cost] = pick(fitting, random) as readonly [string, number];
      words.push(word);
      fill -= cost;
    }
    return { text: words.join(" "), tokens: made };
  }

  private canFill(left: number): boolean {
    return left > this.exactUpTo || this.reachable[left] === true;
  }

  /** `left` if words can add exactly that many tokens, else the nearest that they can (the lower on a tie). */
  private nearestReachable(left: number): number {
    for (let d = 0; d <= this.exactUpTo; d++) {
      if (left - d >= 0 && this.reachable[left - d]) return left - d;
      if (left + d <= this.exactUpTo && this.reachable[left + d]) return left + d;
    }
    return 0;
  }

  private cheapestFirst(): readonly [string, number] {
    return this.first.reduce((best, entry) => (entry[1] < best[1] ? entry : best));
  }
}

function pick<T>(items: readonly T[], random: Random): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(random() * items.length)];
}

function randomWords(random: Random, count: number): string {
  const words = new Array<string>(count);
  for (let i = 0; i < count; i++) words[i] = WORDS[Math.floor(random() * WORDS.length)] as string;
  return words.join(" ");
}
