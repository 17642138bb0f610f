// The browser the page tests drive: Debian's Chromium (/usr/bin/chromium, installed by
// .ci/run) through playwright-core, headless, with no network of its own beyond the page's.
// A test imports `launch` and the two viewports a customer has: a phone (390 CSS px at
// device scale 2) and a desktop (1280 px at scale 1).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.KONBINI_CHROMIUM || '/usr/bin/chromium';

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 };

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
