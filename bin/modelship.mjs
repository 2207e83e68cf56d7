#!/usr/bin/env node
// The npm bin entry (also `modelship/cli`). In a checkout it runs the TypeScript CLI (bin/modelship.ts)
// through tsx, so `npx modelship` needs no build step and can never run a stale build. An installed package
// ships no TypeScript: there it runs the CLI compiled into dist/ with plain Node, and needs no tsx.
import { existsSync } from "node:fs";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `modelship needs Node >= 22.19 (it found ${process.version}). Run it as \`npx modelship\` from the project, which uses the pinned Node 24.`,
  );
  process.exit(2);
}

const source = new URL("./modelship.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import("../dist/bin/modelship.js");
}
