/**
 * What the Hub specs share: where the app is, the app's model cache, and reading what reached the
 * local Hub-like server (./hubServer.ts) or the cache.
 */
import type { Page } from '@playwright/test';
import { MODEL_CACHE } from '../src/model/modelCache';
import type { HubServer } from './hubServer';

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
