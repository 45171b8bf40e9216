/**
 * Headless Chromium for the console's browser tests: Debian's `chromium` driven by
 * playwright-core (which ships no browser). .ci/run installs it; without it the tests
 * are skipped on a developer machine and fail in CI (CI=true), where a check that
 * cannot run must not pass as if it had.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailability(): { available: boolean; skipNote: string } {
  if (existsSync(CHROMIUM)) return { available: true, skipNote: '' };
  const reason = `${CHROMIUM} is missing; .ci/run installs Debian's chromium (apt-get install -y chromium)`;
  if (process.env['CI'] === 'true') throw new Error(`the console's browser tests cannot run in CI: ${reason}`);
  console.warn(`skipping the console's browser tests: ${reason}`);
  return { available: false, skipNote: ` (skipped: ${reason})` };
}

/** A fresh profile each time: no cookie or cache from an earlier run. */
export function launchChromium(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'brisk-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
}
