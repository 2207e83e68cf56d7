#!/usr/bin/env node
// The npm bin entry: runs the TypeScript CLI in bin/modelship.ts through tsx, so `npx modelship` needs no build step.
import { register } from "tsx/esm/api";

register();
await import("./modelship.ts");
