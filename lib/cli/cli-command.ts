// How every CLI command ends: a usage error exits 2 with the command's usage; bad input, or a refusal the
// command names (no control plane, an endpoint that does not answer, …), exits 1 with `✖ message` and a hint;
// anything else is a bug and propagates. Commands throw these instead of printing and returning codes.

import { terminalLines } from "../core/text/terminal-text";

/** The command line itself is wrong: exit 2, with the usage. */
export class UsageError extends Error {}

/** The input is wrong or cannot be acted on: exit 1, with what to do about it. */
export class BadInput extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;

export interface CliCommand {
  /** The command's name, as typed after `modelship`. */
  readonly name: string;
  readonly usage: string;
  /** More errors that mean "refused" (exit 1), printed as their message. */
  readonly refusals?: readonly ErrorClass[];
  /** A refusal whose message needs more than its first line (e.g. every finding of a config): exit 1. */
  readonly describe?: (error: unknown) => string | undefined;
}

export async function runCliCommand(command: CliCommand, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`modelship ${command.name}: ${(error as Error).message}\n\n${command.usage}`);
      return 2;
    }
    // Messages quote names and values from files and folders: shown, never acted on by the terminal.
    if (error instanceof BadInput) {
      console.error(terminalLines(`✖ ${error.message}${error.hint ? `\n  Hint: ${error.hint}` : ""}`));
      return 1;
    }
    const described = command.describe?.(error);
    if (described !== undefined) {
      console.error(terminalLines(`✖ ${described}`));
      return 1;
    }
    if (command.refusals?.some((refusal) => error instanceof refusal)) {
      console.error(terminalLines(`✖ ${(error as Error).message}`));
      return 1;
    }
    throw error;
  }
}
