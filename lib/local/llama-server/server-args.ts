// The command line of the local llama.cpp server process, read strictly: every problem is reported at once
// and nothing is guessed (a typo in a flag is an error, not a default).

export interface ServerArgs {
  readonly modelPath: string;
  readonly port: number;
  /** The name the server answers to in `/v1/models` and a request's `model`. */
  readonly servedName: string;
  readonly threads: number;
  /** Tokens of context; absent: as many as the model was trained for. */
  readonly contextSize?: number;
  readonly maxBodyBytes: number;
  /** Exit when stdin closes: the parent that holds its other end is gone (even if it was SIGKILLed). */
  readonly exitWithStdin: boolean;
}

const SERVER_USAGE =
  "usage: main.ts --model <file.gguf> --port <1-65535> --name <served name> [--threads <n>] [--context <tokens>] " +
  "[--max-body-bytes <n>] [--exit-with-stdin]";

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export class ServerArgsInvalid extends Error {
  override readonly name = "ServerArgsInvalid";
  constructor(readonly problems: readonly string[]) {
    super(`${problems.join("\n")}\n${SERVER_USAGE}`);
  }
}

const VALUE_FLAGS = ["--model", "--port", "--name", "--threads", "--context", "--max-body-bytes"] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const problems: string[] = [];
  const values = new Map<ValueFlag, string>();
  let exitWithStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--exit-with-stdin") {
      exitWithStdin = true;
      continue;
    }
    const flag = VALUE_FLAGS.find((known) => known === arg);
    if (!flag) {
      problems.push(`unknown argument ${JSON.stringify(arg)}`);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) {
      problems.push(`${flag} needs a value`);
      continue;
    }
    values.set(flag, value);
    i++;
  }
  const required = (flag: ValueFlag) => {
    const value = values.get(flag);
    if (value === undefined || value === "") problems.push(`${flag} is required`);
    return value ?? "";
  };
  const integer = (flag: ValueFlag, min: number, max: number) => {
    const text = values.get(flag);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (/^\d+$/.test(text) && value >= min && value <= max) return value;
    problems.push(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return undefined;
  };
  const modelPath = required("--model");
  const servedName = required("--name");
  if (!values.has("--port")) problems.push("--port is required");
  const port = integer("--port", 1, 65535);
  const threads = integer("--threads", 1, 1024);
  const contextSize = integer("--context", 1, 10_000_000);
  const maxBodyBytes = integer("--max-body-bytes", 1, 1024 * 1024 * 1024);
  if (problems.length > 0 || port === undefined) throw new ServerArgsInvalid(problems);
  return {
    modelPath,
    port,
    servedName,
    threads: threads ?? 1,
    ...(contextSize === undefined ? {} : { contextSize }),
    maxBodyBytes: maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    exitWithStdin,
  };
}
