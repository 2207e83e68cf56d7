// Before a load of synthetic prompts is sent: does it fit the server, and how long are its prompts really?
// The context the server reports must hold the longest prompt and its answer (else every request would fail
// with a 400), and the calibrated prompts must be able to be as short as asked (a chat template alone may
// take more tokens than a small `inputTokens`). Both are refused up front with the numbers; `modelship bench`
// and the stress workers run the same plan, each naming the options in its own words (flags, manifest fields).

import type { ProbeResult } from "./endpoint-probe";
import { calibratePrompts, type PromptLengths } from "./prompt-calibration";
import { type ServedContext, servedContext } from "./served-context";
import type { ServerRequests } from "./server-requests";
import { PromptComposer } from "./synthetic-prompts";

/** The load's profile as far as lengths go: the LoadOptions fields of the same names. */
export interface SyntheticLoad {
  readonly inputTokens: number;
  readonly inputTokensSpread: number;
  readonly outputTokens: number;
}

/** What the caller calls each option: `--input-tokens` on the command line, `gates.stress.inputTokens` in a manifest. */
export type LoadOptionNames = Readonly<Record<keyof SyntheticLoad, string>>;

export interface LoadFitProblem {
  readonly option: "inputTokens" | "outputTokens";
  readonly message: string;
}

export class LoadDoesNotFit extends Error {
  override readonly name = "LoadDoesNotFit";
  constructor(readonly problems: readonly LoadFitProblem[]) {
    super(problems.map((p) => p.message).join(" "));
  }
}

export interface SyntheticLoadPlan {
  /** Undefined when the server reports none: nothing was checked against it. */
  readonly context?: ServedContext;
  readonly lengths: PromptLengths;
}

/** Checks the load against the server's context, calibrates the prompts, and checks the shortest is short enough. */
export async function planSyntheticLoad(
  server: ServerRequests,
  probe: ProbeResult,
  model: string,
  load: SyntheticLoad,
  names: LoadOptionNames,
): Promise<SyntheticLoadPlan> {
  const context = await servedContext(probe, model, server);
  const range = promptRange(load);
  const tooLong = context
    ? contextProblems({ ...load, longestPrompt: range.longest }, context, model, names)
    : [];
  if (tooLong.length > 0) throw new LoadDoesNotFit(tooLong);
  const lengths = await calibratePrompts(server, model, load.inputTokens);
  if (lengths.calibrated) {
    const shortest = new PromptComposer(lengths.calibration).shortest;
    if (range.shortest < shortest) {
      throw new LoadDoesNotFit([
        {
          option: "inputTokens",
          message:
            `The shortest prompt this server can be sent is ${shortest} tokens as it counts them (its chat template and one word), ` +
            `but ${describeRange(load, range, names)} asks for ${range.shortest}. ` +
            `Raise ${names.inputTokens} to at least ${Math.ceil(shortest / (1 - load.inputTokensSpread))}.`,
        },
      ]);
    }
  }
  return { ...(context ? { context } : {}), lengths };
}

/**
 * Why prompts of up to `longestPrompt` tokens (undefined: unknown, as for a prompt file) and answers of
 * `outputTokens` cannot fit the context; empty when they can.
 */
export function contextProblems(
  load: {
    readonly longestPrompt?: number;
    readonly inputTokensSpread: number;
    readonly outputTokens: number;
  },
  context: ServedContext,
  model: string,
  names: LoadOptionNames,
): LoadFitProblem[] {
  const { longestPrompt, outputTokens } = load;
  const served = `the server serves ${model} with a context of ${context.tokens} tokens (${context.from})`;
  if (outputTokens >= context.tokens) {
    return [
      {
        option: "outputTokens",
        message: `${names.outputTokens} ${outputTokens} alone leaves no room for a prompt: ${served}. Lower ${names.outputTokens} below ${context.tokens}.`,
      },
    ];
  }
  if (longestPrompt === undefined || longestPrompt + outputTokens <= context.tokens) return [];
  const room = context.tokens - outputTokens;
  const most = Math.floor(room / (1 + load.inputTokensSpread));
  return [
    {
      option: "inputTokens",
      message:
        `Prompts of up to ${longestPrompt} tokens with answers of up to ${outputTokens} need ${longestPrompt + outputTokens} tokens of context, but ${served}: ` +
        `every request would fail. Lower ${names.inputTokens} to at most ${most} (with ${names.outputTokens} ${outputTokens}${load.inputTokensSpread > 0 ? ` and ${names.inputTokensSpread} ${load.inputTokensSpread}` : ""}), or lower ${names.outputTokens}.`,
    },
  ];
}

/** The lengths of the prompts the load draws: inputTokens · [1 − spread, 1 + spread], as syntheticPrompts rounds them. */
function promptRange(load: SyntheticLoad): { shortest: number; longest: number } {
  const shortest = Math.max(1, Math.round(load.inputTokens * (1 - load.inputTokensSpread)));
  return {
    shortest,
    longest: Math.max(shortest, Math.round(load.inputTokens * (1 + load.inputTokensSpread))),
  };
}

function describeRange(
  load: SyntheticLoad,
  range: { shortest: number; longest: number },
  names: LoadOptionNames,
): string {
  if (load.inputTokensSpread === 0) return `${names.inputTokens} ${load.inputTokens}`;
  return `${names.inputTokens} ${load.inputTokens} with ${names.inputTokensSpread} ${load.inputTokensSpread} (${range.shortest} to ${range.longest} tokens)`;
}
