// No candidate server outlives the control plane: every live child registered here is sent SIGTERM when this
// process exits normally or is stopped by SIGINT or SIGTERM. Nothing can run after a SIGKILL of this process;
// for that case the built-in server watches its stdin pipe and exits when it closes.
//
// The signal listeners exist only while children live. A listener on SIGINT/SIGTERM replaces Node's default
// (exit); when ours is the only one, it stops the children and then re-raises the signal, so the process
// still ends as it would have. When others listen too (the CLI's Ctrl-C handling), they decide.

import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

export function reapOnExit(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (live.size === 0) listen();
  live.add(child);
  child.once("exit", () => {
    live.delete(child);
    if (live.size === 0) stopListening();
  });
}

function terminateAll(): void {
  for (const child of live) child.kill("SIGTERM");
}

function onSignal(signal: NodeJS.Signals): void {
  terminateAll();
  if (process.listenerCount(signal) === 1) {
    stopListening();
    process.kill(process.pid, signal);
  }
}

function listen(): void {
  process.on("exit", terminateAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function stopListening(): void {
  process.off("exit", terminateAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}
