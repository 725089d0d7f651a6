/**
 * The browser tests' `test`: Playwright's, with one automatic check around every test. Every
 * Content-Security-Policy violation during the test — in its pages, in pages of contexts it
 * opens with `browser.newContext`, and in their workers (see cspWatch.ts) — fails it: a policy
 * that breaks part of the app, or code that needs more than the policy allows, is caught by
 * every test. A test that provokes a violation on purpose declares it with `csp.expect(match)`.
 */
import { test as base, expect } from '@playwright/test';
import { CspWatch, type Violation } from './cspWatch';

export type { CspWatch };

export { expect };
export type { Download, Locator, Page, TestInfo } from '@playwright/test';
export type { Violation };

export const test = base.extend<{ csp: CspWatch }>({
  csp: [
    async ({ browser, context }, use) => {
      const watch = new CspWatch();
      await watch.watchContext(context);
      // Contexts a test opens itself (a second visitor) are watched too, for this test only.
      const newContext = browser.newContext;
      browser.newContext = async (...args) => {
        const opened = await newContext.apply(browser, args);
        await watch.watchContext(opened);
        return opened;
      };
      try {
        await use(watch);
      } finally {
        browser.newContext = newContext;
        await watch.stop();
      }
      expect(watch.unexpected(), 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true },
  ],
});
