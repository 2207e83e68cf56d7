// Reading a command's flags and arguments, the same way for every command: Node's parseArgs, with its errors
// turned into one usage-error style — what was wrong with which flag, a did-you-mean for a misspelt one,
// whole sentences, no quoting left unbalanced — that runCliCommand prints with the command's usage (exit 2).

import { parseArgs, type ParseArgsConfig } from "node:util";
import { suggestNearest } from "../core/suggest";
import { UsageError } from "./cli-command";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs, strict; a command line it refuses becomes a UsageError saying what to change. */
export function parseCommandLine<const T extends ParseArgsConfig & { readonly options: Options }>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    throw new UsageError(describeRefusal(error as Error & { code: string }, config.options), {
      cause: error,
    });
  }
}

function describeRefusal(error: Error & { code: string }, options: Options): string {
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  const flags = Object.keys(options).map((name) => `--${name}`);
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const typed = quoted.replace(/^-+/, "").split("=")[0] ?? "";
      const nearest = suggestNearest(typed, Object.keys(options));
      return nearest
        ? `unknown flag ${quoted}: did you mean --${nearest}?`
        : `unknown flag ${quoted}; the flags are ${flags.join(", ")}.`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0] ?? quoted;
      return /argument missing/.test(error.message)
        ? `${flag} needs a value, e.g. ${flag} <value>.`
        : `${flag} takes no value; give it alone.`;
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}': this command takes flags only.`;
    default:
      return error.message;
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}
