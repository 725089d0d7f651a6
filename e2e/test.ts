/**
 * The browser tests' `test`: Playwright's, with one automatic check around every test. The page
 * records each Content-Security-Policy violation it sees (`securitypolicyviolation`, in the page
 * and, reported by the page, in its workers), and a test with any fails: a policy that breaks
 * part of the app, or code that needs more than the policy allows, is caught by every test.
 */
import { test as base, expect } from '@playwright/test';

export { expect };
export type { Download, Locator, Page, TestInfo } from '@playwright/test';

interface Violation {
  directive: string;
  blocked: string;
  source: string;
}

declare global {
  interface Window {
    __cspViolations?: Violation[];
  }
}

export const test = base.extend<{ cspGuard: void }>({
  cspGuard: [
    async ({ context }, use) => {
      const seen: Violation[] = [];
      await context.exposeBinding('__reportCspViolation', (_source, v: Violation) => void seen.push(v));
      await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          const report = (window as unknown as { __reportCspViolation?: (v: unknown) => void }).__reportCspViolation;
          report?.({ directive: e.effectiveDirective, blocked: e.blockedURI, source: `${e.sourceFile}:${e.lineNumber}` });
        });
      });
      await use();
      expect(seen, 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true },
  ],
});
