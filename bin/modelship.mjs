#!/usr/bin/env node
// The npm bin entry: runs the TypeScript CLI in bin/modelship.ts through tsx, so `npx modelship` needs no build step.
import { register } from "tsx/esm/api";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `modelship needs Node >= 22.19 (it found ${process.version}). Run it as \`npx modelship\` from the project, which uses the pinned Node 24.`,
  );
  process.exit(2);
}

register();
await import("./modelship.ts");
