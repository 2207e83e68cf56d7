// The llama.cpp server processes a process started, read from the process table (Linux /proc): what the
// capacity tests and bench count, so a claim about how many servers ran is checked against the processes
// themselves, not against what modelship believes it runs.

import { readdirSync, readFileSync } from "node:fs";

/** A running server: its pid and the rollout whose version it serves (the marker in its environment). */
export interface ServerProcess {
  readonly pid: number;
  readonly rolloutId: string | undefined;
}

/** The built-in llama.cpp servers whose parent is `parent` and that still run (zombies left out). */
export function runningServers(parent: number = process.pid): ServerProcess[] {
  const servers: ServerProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== parent || state === "Z") continue;
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("llama-server/main.ts")) continue;
      const marker = readFileSync(`/proc/${entry}/environ`, "utf8")
        .split("\0")
        .find((variable) => variable.startsWith("MODELSHIP_ROLLOUT_ID="));
      servers.push({ pid: Number(entry), rolloutId: marker?.slice("MODELSHIP_ROLLOUT_ID=".length) });
    } catch {
      // The process ended while it was read.
    }
  }
  return servers;
}

/** The pids of `runningServers`. */
export function runningServerPids(parent: number = process.pid): number[] {
  return runningServers(parent).map((server) => server.pid);
}
