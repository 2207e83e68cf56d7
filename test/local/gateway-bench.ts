// What the local gateway's test files share: a work folder for the file, gateways opened on port 0 in fresh
// homes under it, and the small model servers behind them (gateway-upstream.ts) — every gateway and server a
// test opened through the bench closed after that test, the work folder removed after the file.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { LocalGateway, type LocalGatewayOptions } from "../../lib/local/gateway/local-gateway";
import { endpointOf, type Responder, startUpstream, type TestUpstream } from "./gateway-upstream";

export interface GatewayBench {
  /** The gateways open in the current test; a test that closes one itself takes it out of the list. */
  readonly gateways: LocalGateway[];
  /** The servers open in the current test. */
  readonly upstreams: TestUpstream[];
  /** A fresh folder `<prefix>…` in the work folder (a gateway's home, by default). */
  home(prefix?: string): Promise<string>;
  /** A small model server (see startUpstream), closed after the test. */
  upstream(name: string, respond?: Responder): Promise<TestUpstream>;
  /** A gateway on port 0, in `options.home` or a fresh home, with the bench's defaults; closed after the test. */
  openGateway(options?: Partial<LocalGatewayOptions>): Promise<LocalGateway>;
}

/**
 * Registers the file's hooks and returns its bench. Gateways open with an admin secret no test uses, on port 0,
 * with the test servers' endpoints, then `defaults` (a seeded `random`, a real secret), then each call's options.
 */
export function gatewayBench(prefix: string, defaults: Partial<LocalGatewayOptions> = {}): GatewayBench {
  let work: string | undefined;
  const gateways: LocalGateway[] = [];
  const upstreams: TestUpstream[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), prefix));
  });

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const workFolder = (): string => {
    if (!work) throw new Error("The gateway bench's work folder is made in beforeAll: use it inside a test.");
    return work;
  };
  const home = (folderPrefix = "home-") => mkdtemp(join(workFolder(), folderPrefix));

  return {
    gateways,
    upstreams,
    home,
    upstream: async (name, respond) => {
      const started = await startUpstream(name, respond);
      upstreams.push(started);
      return started;
    },
    openGateway: async (options = {}) => {
      const gateway = await LocalGateway.open({
        adminSecret: "not-used-by-these-tests",
        port: 0,
        endpointOf,
        ...defaults,
        ...options,
        home: options.home ?? (await home()),
      });
      gateways.push(gateway);
      return gateway;
    },
  };
}
