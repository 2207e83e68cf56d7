// While the suite runs, the local control plane's default port (127.0.0.1:8080) is taken, as it is when a
// user runs `modelship local` beside `npm test`: a test that binds a fixed port instead of port 0 fails here,
// every time, rather than only on the machine where something else happens to listen. If something already
// holds the port (a `modelship local` really running), that serves the same purpose.

import { createServer, type Server } from "node:net";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";

let held: Server | undefined;

export async function setup(): Promise<void> {
  const server = createServer((socket) => socket.destroy());
  held = await new Promise<Server | undefined>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" ? resolve(undefined) : reject(error),
    );
    server.listen(DEFAULT_STACK_CONFIG.local.gatewayPort, "127.0.0.1", () => resolve(server));
  });
}

export async function teardown(): Promise<void> {
  await new Promise<void>((resolve) => (held ? held.close(() => resolve()) : resolve()));
}
