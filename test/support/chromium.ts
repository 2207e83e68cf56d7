// How the web console's browser test and screenshot script start Debian's Chromium with playwright-core
// (which downloads no browser): headless, and kept off this machine's closed network — without the
// background-networking flags Chromium's own connections are refused many at a time
// (/work/.library/env/machines/node.md).

import type { LaunchOptions } from "playwright-core";

export const CHROMIUM_LAUNCH: LaunchOptions = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};
