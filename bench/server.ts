/**
 * A small static server for the bench: cross-origin isolated like `vite preview` (COOP same-origin,
 * COEP require-corp), and cacheable (max-age) so that a second load can come from the HTTP cache.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

/** URL prefix (`/ort/`) served from a folder. */
export interface Mount {
  prefix: string;
  dir: string;
}

export interface BenchServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  close(): Promise<void>;
}

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'public, max-age=3600',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain',
  '.md': 'text/plain',
};

/** The file a path maps to, or null (longest prefix wins; `..` cannot leave the folder). */
function resolve(mounts: readonly Mount[], pathname: string): string | null {
  const mount = mounts.filter((m) => pathname.startsWith(m.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
  if (!mount) return null;
  const root = normalize(mount.dir + sep);
  const rel = decodeURIComponent(pathname.slice(mount.prefix.length));
  const file = normalize(join(root, rel.endsWith('/') || rel === '' ? `${rel}index.html` : rel));
  return file.startsWith(root) ? file : null;
}

export async function serve(mounts: readonly Mount[]): Promise<BenchServer> {
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const file = resolve(mounts, pathname);
    let size = -1;
    try {
      if (file) size = statSync(file).isFile() ? statSync(file).size : -1;
    } catch {
      size = -1;
    }
    if (!file || size < 0) {
      res.writeHead(404, { ...HEADERS, 'Content-Type': 'text/plain' }).end(`not found: ${pathname}\n`);
      return;
    }
    res.writeHead(200, { ...HEADERS, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
