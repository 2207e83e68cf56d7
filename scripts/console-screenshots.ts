// Takes the README's screenshots of the web console (run by hand, not in CI: `npx tsx
// scripts/console-screenshots.ts`): a local control plane with llama.cpp releases `tiny` v1, then runs v2's
// canary; docs/images/console-canary.png is the console during v2's first bake (weights, the graph at Bake,
// the alarms' charts), docs/images/console-rollback.png after Rollback was pressed in the console and the
// execution ended in RolledBack. Needs Debian's chromium (/usr/bin/chromium) and llama-server.

import { rm } from "node:fs/promises";
import { chromium } from "playwright-core";
import type { ModelshipEvent } from "../lib/core/events/events";
import { CHROMIUM_LAUNCH } from "../test/support/chromium";
import { tinyAlarms, tinyControlPlane, tinyManifest, uploadTiny } from "../test/support/tiny-canary";

/**
 * The candidate's latency may be up to 3× the stable's: on a busy 2-core machine two llama.cpp servers slow each
 * other down, and the comparison alarm would roll the canary back before the console acts.
 */
const CALM_VS_STABLE = "\n    vsStable:\n      latencyP95Ratio: 3";

const OUT = new URL("../docs/images/", import.meta.url);

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const events: ModelshipEvent[] = [];
const logged: string[] = [];
const { work, controlPlane } = await tinyControlPlane("modelship-console-screenshots-", { events, logged });
const browser = await chromium.launch(CHROMIUM_LAUNCH);
try {
  await uploadTiny(
    controlPlane.home,
    "1.0.0",
    1,
    tinyManifest("1.0.0", `  watchSeconds: 1\n${tinyAlarms(5000)}`),
  );
  await until(
    "1.0.0's release",
    () => events.some((e) => e.detail.version === "1.0.0" && e.detail.stage === "Finalize"),
    120_000,
  );
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(controlPlane.consoleLoginUrl());
  await uploadTiny(
    controlPlane.home,
    "1.1.0",
    2,
    tinyManifest(
      "1.1.0",
      `  steps:\n    - { weight: 25, bakeSeconds: 45 }\n    - { weight: 50, bakeSeconds: 45 }\n  bakeSeconds: 45\n${tinyAlarms(5000)}${CALM_VS_STABLE}`,
    ),
  );
  const card = page.locator('[data-model="tiny"]');
  await until(
    "the first step",
    async () => (await card.locator(".weight-candidate").textContent()) === "25%",
    180_000,
  );
  // Some periods of the alarms' metrics on the charts.
  await until(
    "the alarms' charts",
    async () => (await page.locator(".alarm-charts svg").count()) > 0,
    60_000,
  );
  await new Promise((done) => setTimeout(done, 15_000));
  await page.screenshot({ path: new URL("console-canary.png", OUT).pathname });

  await card.locator('input[type="text"]').fill("answers too short for the support bot");
  await card.getByRole("button", { name: "Rollback" }).click();
  await until(
    "the execution's end",
    async () => (await page.locator("#execution-summary").getAttribute("data-status")) === "FAILED",
    120_000,
  );
  // The graph's box at its end, where the execution ended; the page itself at its top.
  await page.locator("#graph").evaluate((box) => (box.scrollTop = box.scrollHeight));
  await page.screenshot({ path: new URL("console-rollback.png", OUT).pathname });
  console.log(`Saved ${OUT.pathname}console-canary.png and console-rollback.png`);
} finally {
  await browser.close();
  await controlPlane.close();
  await rm(work, { recursive: true, force: true });
}
