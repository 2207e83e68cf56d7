// The web console in a real browser (Debian's headless Chromium driven by playwright-core) against a real
// local canary with llama.cpp: v1 is released, v2 starts its canary; the console, opened through the login
// link `modelship local` prints, shows v2's weight change live and the execution's graph; pressing Rollback
// sends the command through the console's protections, and the page shows the route back at 100% on v1 — as
// the gateway does. The browser is closed and nothing the control plane started is left running.

import { rm } from "node:fs/promises";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ModelshipEvent } from "../../lib/core/events/events";
import type { ControlPlane } from "../../lib/local/control-plane";
import { CHROMIUM_LAUNCH } from "../support/chromium";
import { isRunning } from "../support/process-alive";
import { tinyAlarms, tinyControlPlane, tinyManifest, uploadTiny } from "../support/tiny-canary";

/**
 * The candidate's latency may be up to 3× the stable's: on a busy 2-core machine two llama.cpp servers slow each
 * other down, and the comparison alarm would roll the canary back before the console acts.
 */
const CALM_VS_STABLE = "\n    vsStable:\n      latencyP95Ratio: 3";

let work: string;
let controlPlane: ControlPlane;
let browser: Browser | undefined;
const events: ModelshipEvent[] = [];
const logged: string[] = [];

beforeAll(async () => {
  ({ work, controlPlane } = await tinyControlPlane("modelship-console-browser-", { events, logged }));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await controlPlane?.close();
  await rm(work, { recursive: true, force: true });
});

async function untilEvent(version: string, matches: (e: ModelshipEvent) => boolean, timeout: number) {
  await vi.waitFor(
    () => {
      const failed = events.find((e) => e.detail.version === version && e.detailType === "Stage Failed");
      if (failed) throw new Error(`${version} failed: ${JSON.stringify(failed.detail)}`);
      if (!events.some((e) => e.detail.version === version && matches(e)))
        throw new Error(`waiting for ${version}`);
    },
    { timeout, interval: 200 },
  );
}

function serverPids(): number[] {
  return events.flatMap((e) => {
    const where = e.detail.data?.["where"] as { pid?: unknown } | undefined;
    return e.detail.stage === "DeployCandidate" && typeof where?.pid === "number" ? [where.pid] : [];
  });
}

describe("The web console in Chromium, during a real local canary", () => {
  it("shows the candidate's weight change live, and Rollback returns the route to stable", async () => {
    await uploadTiny(
      controlPlane.home,
      "v1",
      1,
      tinyManifest("v1", `  watchSeconds: 1\n${tinyAlarms(5000)}`),
    );
    await untilEvent(
      "v1",
      (e) => e.detailType === "Stage Succeeded" && e.detail.stage === "Finalize",
      90_000,
    );

    browser = await chromium.launch(CHROMIUM_LAUNCH);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(controlPlane.consoleLoginUrl());
    // The token was spent for a cookie the page's script cannot read, and left the address bar.
    expect(new URL(page.url()).pathname).toBe("/_modelship/ui/");
    expect(page.url()).not.toContain("token");
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/_modelship" });
    await expect.poll(() => page.locator("#connection").textContent(), { timeout: 30_000 }).toContain("live");

    const card = page.locator('[data-model="tiny"]');
    await expect.poll(() => card.locator(".weight-stable").textContent(), { timeout: 30_000 }).toBe("100%");

    await uploadTiny(
      controlPlane.home,
      "v2",
      2,
      tinyManifest(
        "v2",
        `  steps:\n    - { weight: 30, bakeSeconds: 120 }\n  bakeSeconds: 120\n${tinyAlarms(5000)}${CALM_VS_STABLE}`,
      ),
    );
    // The page follows the canary: v2 appears as the candidate, then takes its first step's weight.
    await expect
      .poll(() => card.locator(".version-candidate").textContent(), { timeout: 120_000 })
      .toBe("v2");
    await expect
      .poll(() => card.locator(".weight-candidate").textContent(), { timeout: 120_000 })
      .toBe("30%");
    await expect
      .poll(() => card.locator(".route").textContent(), { timeout: 30_000 })
      .toContain("v2 (candidate) 30%");
    // The execution's graph shows the bake running, the stages before it done.
    const graph = page.locator("#graph");
    await expect
      .poll(() => graph.locator('[data-state="Bake"]').getAttribute("data-status"), { timeout: 30_000 })
      .toBe("running");
    expect(await graph.locator('[data-state="RegisterGateway"]').getAttribute("data-status")).toBe(
      "succeeded",
    );

    await card.locator('input[type="text"]').fill("seen in the console");
    await card.getByRole("button", { name: "Rollback" }).click();

    await expect.poll(() => page.locator("#outcome").textContent(), { timeout: 30_000 }).toMatch(/roll/i);
    await expect
      .poll(() => card.locator(".route").textContent(), { timeout: 60_000 })
      .toBe("gateway: v1 (stable) 100%");
    expect(await card.locator(".weight-stable").textContent()).toBe("100%");
    const route = await controlPlane.runtime.gateway.describe("tiny");
    expect(route?.backends.map((b) => [b.variant, b.version, b.weight])).toEqual([["stable", "v1", 100]]);
    const record = await controlPlane.runtime.deps.store.get("tiny");
    expect(record?.history.at(-1)?.reason ?? "").toContain("seen in the console");
    expect(JSON.stringify(record?.history)).toMatch(/\(web console\)/);

    await browser.close();
    expect(browser.isConnected()).toBe(false);
    await controlPlane.close();
    const pids = serverPids();
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  }, 300_000);
});
