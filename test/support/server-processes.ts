// The llama.cpp server processes a process started, read from the process table (Linux /proc): what the
// capacity tests and bench count, so a claim about how many servers ran is checked against the processes
// themselves, not against what modelship believes it runs.

import { readdirSync, readFileSync } from "node:fs";

/** The pids of the built-in llama.cpp servers whose parent is `parent` and that still run (zombies left out). */
export function runningServerPids(parent: number = process.pid): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== parent || state === "Z") continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("llama-server/main.ts"))
        pids.push(Number(entry));
    } catch {
      // The process ended while it was read.
    }
  }
  return pids;
}
