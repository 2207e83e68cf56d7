// A generated tiny GGUF served for real, as `modelship local` serves a released model: LocalServing starts
// modelship's llama.cpp server on it (context 256), and a LocalGateway on a free port routes the model to it
// as its stable version. More versions can be served beside it (`deployTinyVersion`) and registered on the
// gateway. `close` stops the gateway and every server LocalServing started, and checks that v1's is gone.

import { join } from "node:path";
import { expect, vi } from "vitest";
import { DEFAULT_STACK_CONFIG } from "../../lib/core/config/config";
import { buildTinyLlamaGguf } from "../../lib/examples/gguf-model";
import { LocalGateway } from "../../lib/local/gateway/local-gateway";
import { LocalServing } from "../../lib/local/local-serving";
import type { CandidateHandle } from "../../lib/ports";
import { isRunning } from "./process-alive";
import { localVersionSpec } from "./local-version";

export interface TinyGgufBehindGateway {
  readonly serving: LocalServing;
  readonly gateway: LocalGateway;
  readonly handle: CandidateHandle;
  close(): Promise<void>;
}

/** Serves `model` v1 from a tiny GGUF of `seed` under `work`, behind a gateway. */
export async function serveTinyGgufBehindGateway(
  work: string,
  options: { readonly model: string; readonly seed: number },
): Promise<TinyGgufBehindGateway> {
  const { model } = options;
  const serving = new LocalServing({ home: join(work, ".modelship"), config: DEFAULT_STACK_CONFIG });
  const handle = await deployTinyVersion(serving, work, { model, version: "v1", seed: options.seed });
  const gateway = await LocalGateway.open({
    adminSecret: "not-used-by-these-tests",
    home: join(work, ".modelship"),
    port: 0,
    endpointOf: (h) => serving.endpoint(h, "probe"),
  });
  await gateway.register(model, handle);
  await gateway.promote(model, "v1");
  return {
    serving,
    gateway,
    handle,
    async close() {
      await gateway.close();
      await serving.stopAll();
      const pid = handle.details?.["pid"] as number | undefined;
      if (pid) expect(isRunning(pid)).toBe(false);
    },
  };
}

/**
 * Writes a tiny GGUF of `seed` as `models/<model>/<version>/` of the bucket under `work`, serves it with
 * `serving` (llama.cpp, context 256) and waits until it is ready.
 */
export async function deployTinyVersion(
  serving: LocalServing,
  work: string,
  options: { readonly model: string; readonly version: string; readonly seed: number },
): Promise<CandidateHandle> {
  const { model, version } = options;
  const handle = await serving.deploy(
    await localVersionSpec(work, { model, version, weights: buildTinyLlamaGguf({ seed: options.seed }) }),
  );
  await vi.waitFor(
    async () => {
      const status = await serving.status(handle);
      if (status.phase !== "ready") throw new Error(`still ${status.phase}: ${JSON.stringify(status)}`);
    },
    { timeout: 30_000, interval: 100 },
  );
  return handle;
}
