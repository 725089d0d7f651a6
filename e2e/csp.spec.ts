import { expect, test } from './test';
import { LensPage } from './lensPage';

test.describe('Content-Security-Policy', () => {
  test('the built page carries the policy, as a meta element and as a header', async ({ page }) => {
    const response = await page.goto('./?backend=wasm');
    const header = response?.headers()['content-security-policy'] ?? '';
    expect(header).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(header).toContain("frame-ancestors 'none'");
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).toContain("default-src 'self'");
    expect(meta).not.toContain('frame-ancestors'); // ignored in a meta policy: header only
  });

  test('is enforced in the page and in the model worker, and the guard sees both', async ({ page, csp }, info) => {
    await LensPage.open(page, info);

    // An injected inline script does not run, and reports a violation (one per policy: the
    // preview delivers it twice, as a header and in the page's meta element).
    const ran = await page.evaluate(async () => {
      const w = window as unknown as { injectedRan?: boolean };
      const script = document.createElement('script');
      script.textContent = 'window.injectedRan = true';
      document.head.append(script);
      await new Promise((r) => setTimeout(r, 100));
      return w.injectedRan === true;
    });
    csp.expect((v) => v.blocked === 'inline');
    expect(ran).toBe(false);
    await expect.poll(() => csp.violations.some((v) => v.directive === 'script-src-elem' && v.blocked === 'inline')).toBe(true);

    // The model worker has the policy too: a fetch to a host it does not list is refused there.
    const worker = page.workers().find((w) => w.url().includes('lens.worker'));
    if (!worker) throw new Error(`no model worker among ${page.workers().map((w) => w.url()).join(', ')}`);
    csp.expect((v) => v.blocked.startsWith('https://example.org'));
    const fetched = await worker.evaluate(() => fetch('https://example.org/').then(() => 'fetched', (e: unknown) => String(e)));
    expect(fetched).toMatch(/TypeError/);
    // Only the worker's own global sees this violation (code evaluated there has no source file).
    await expect.poll(() => csp.violations.some((v) => v.directive === 'connect-src' && v.blocked.startsWith('https://example.org'))).toBe(true);
  });
});
