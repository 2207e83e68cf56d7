// A file of the local runtime's home that is not what modelship wrote — cut short, edited by hand, another
// program's — named with every problem found in it and how to recover. modelship never overwrites such a
// file (the records in it may be all that says what served); the CLI prints the message and exits 1, never a
// stack trace. `HomeInvalid` gathers them, so a start reports every bad file of a home at once.

export class StateFileInvalid extends Error {
  override readonly name = "StateFileInvalid";

  constructor(
    readonly file: string,
    /** What the file should be, e.g. `a modelship rollout store`. */
    readonly kind: string,
    readonly problems: readonly string[],
    /** What to do: fix it, or move it away and what is lost then. */
    readonly recovery: string,
  ) {
    super(
      `${file} is not ${kind}:\n${problems.map((p) => `  ${p}`).join("\n")}\n${recovery} modelship will not overwrite it.`,
    );
  }
}

/** Every state file of a home that failed its check at start. */
export class HomeInvalid extends Error {
  override readonly name = "HomeInvalid";

  constructor(
    readonly home: string,
    readonly files: readonly StateFileInvalid[],
  ) {
    const indented = files.map((f) => f.message.replace(/^/gm, "  ")).join("\n");
    super(
      `The local runtime's home ${home} has ${files.length === 1 ? "a file" : `${files.length} files`} it cannot use; nothing was started.\n${indented}`,
    );
  }
}
