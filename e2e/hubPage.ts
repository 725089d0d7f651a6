/**
 * What the Hub specs share: where the app is, the app's model cache, and reading what reached the
 * local Hub-like server (./hubServer.ts) or the cache.
 */
import type { Page } from '@playwright/test';
import { MODEL_CACHE } from '../src/model/modelCache';
import { startHubServer, type HubServer } from './hubServer';
import { test } from './test';

export { MODEL_CACHE };
/** The built app, as playwright.config.ts serves it (port 4173 unless E2E_PORT says). */
export const APP = `http://127.0.0.1:${process.env['E2E_PORT'] ?? 4173}/`;

/** The app on WASM, downloading from the local Hub; `extra` adds query parameters (`&model=…`). */
export function appWithHub(hub: HubServer, extra = ''): string {
  return `${APP}?backend=wasm&hub=${encodeURIComponent(hub.url)}${extra}`;
}

/** Stored entries of one repo (e.g. `Test/clip-lens-shapes`) as `path → bytes`. */
export async function cachedFiles(page: Page, repo: string): Promise<Record<string, number>> {
  return page.evaluate(async ({ name, prefix }) => {
    const out: Record<string, number> = {};
    if (!(await caches.has(name))) return out;
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const path = new URL(req.url).pathname;
      if (!path.startsWith(prefix)) continue;
      const res = await cache.match(req);
      out[path.slice(prefix.length)] = res ? (await res.arrayBuffer()).byteLength : -1;
    }
    return out;
  }, { name: MODEL_CACHE, prefix: `/${repo}/resolve/main/` });
}

/** Requests for model files that reached the server (preflights not counted). */
export function modelFileRequests(hub: HubServer): HubServer['requests'] {
  return hub.requests.filter((r) => r.file !== null && r.method !== 'OPTIONS');
}

/**
 * One local Hub for a spec's tests, handed to `use` once started; before each test its faults
 * are on again and its request log is empty. Closed after the last test.
 */
export function withLocalHub(use: (hub: HubServer) => void): void {
  let hub: HubServer | null = null;
  test.beforeAll(async () => {
    hub = await startHubServer();
    use(hub);
  });
  test.afterAll(async () => {
    await hub?.close();
  });
  test.beforeEach(() => {
    if (!hub) return;
    hub.faults = true;
    hub.requests.length = 0;
  });
}
