// The Hooks port on one machine. A function hook is a command of the home's config.json (`hooks.functions`:
// a name → program and arguments, no shell): the manifest names it, config.json — which only the machine's
// user writes — says what runs, so a file dropped in the bucket never chooses a program. The command gets the
// hook's request as JSON on stdin and prints its verdict as JSON on stdout; it runs in its own process group,
// which is killed when it outlasts the hook's time or prints more than MAX_HOOK_ANSWER_BYTES, so nothing it
// started outlives it. URL hooks are signed with the home's `hook-signing-key` (created once, mode 0600):
// a receiver on this machine reads the same file to check the signature.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HookFunction } from "../core/config/config";
import { MAX_HOOK_ANSWER_BYTES } from "../core/gates/hooks";
import type { Hooks } from "../ports";
import { reapOnExit } from "./child-reaper";

/** `<home>/hook-signing-key`: the key URL hooks' bodies are signed with. */
export function hookSigningKeyPath(home: string): string {
  return join(home, "hook-signing-key");
}

/** The last bytes of a failing command's stderr that its failure quotes. */
const STDERR_TAIL_BYTES = 2048;

export class LocalHooks implements Hooks {
  private key: Promise<string> | undefined;

  constructor(
    private readonly options: { readonly home: string; readonly functions: readonly HookFunction[] },
  ) {}

  callFunction(name: string, body: string, timeoutMs: number): Promise<string> {
    const command = this.options.functions.find((fn) => fn.name === name)?.command;
    if (!command || command.length === 0) {
      return Promise.reject(
        new Error(
          `no hook command '${name}' in the home's config.json (hooks.functions: [{"name": "${name}", "command": ["program", "arg", …]}]).`,
        ),
      );
    }
    return runHookCommand(command, body, timeoutMs);
  }

  signingKey(): Promise<string> {
    this.key ??= readOrCreateKey(hookSigningKeyPath(this.options.home));
    return this.key;
  }
}

async function readOrCreateKey(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  try {
    await writeFile(path, `${randomBytes(32).toString("hex")}\n`, { flag: "wx", mode: 0o600 });
    // The mode is applied under the umask at creation; make it exactly owner-only whatever the umask.
    await chmod(path, 0o600);
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return (await readFile(path, "utf8")).trim();
}

/** Runs `command` with `body` on stdin; its stdout when it exits 0 in time, else an Error saying what happened. */
export function runHookCommand(command: readonly string[], body: string, timeoutMs: number): Promise<string> {
  const [program, ...args] = command as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
    reapOnExit(child);
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = Buffer.alloc(0);
    let failure: string | undefined;
    const killGroup = (why: string) => {
      failure ??= why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group is gone already.
      }
    };
    const timer = setTimeout(() => killGroup(`did not answer within ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.byteLength;
      if (stdoutBytes > MAX_HOOK_ANSWER_BYTES) {
        killGroup(
          `printed more than ${MAX_HOOK_ANSWER_BYTES / 1024} KiB; a hook prints {"pass": …, "reason": …}`,
        );
      } else {
        stdout.push(chunk);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderrTail = Buffer.concat([stderrTail, chunk]).subarray(-STDERR_TAIL_BYTES);
    });
    // A command that does not read its stdin closes it early: that is its business, not a failure.
    child.stdin.on("error", () => undefined);
    child.stdin.end(body);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not be run (${program}: ${error.message})`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      // Whatever the command left behind in its group goes with it.
      killGroup("exited");
      if (failure !== "exited") return reject(new Error(failure));
      if (code !== 0) {
        const said = stderrTail.toString("utf8").trim();
        return reject(
          new Error(
            `exited with ${code === null ? `signal ${signal}` : `code ${code}`}${said ? `: ${said}` : ""}`,
          ),
        );
      }
      resolve(Buffer.concat(stdout).toString("utf8"));
    });
  });
}
