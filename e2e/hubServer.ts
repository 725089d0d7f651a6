/**
 * A local stand-in for the Hugging Face Hub, for the browser tests: serves the bundled model
 * folder (public/models/clip-lens-shapes) at Hub URLs, `/{owner}/{name}/resolve/{revision}/{file}`,
 * with the headers a cross-origin, cross-origin-isolated page needs (CORS, exposed Content-Range
 * and ETag, `Cross-Origin-Resource-Policy: cross-origin`), Content-Length, and Range requests.
 *
 * The repository owner selects a behaviour, so a test picks a fault by typing a repo id:
 *
 * | owner            | behaviour                                                                   |
 * |------------------|-----------------------------------------------------------------------------|
 * | `Test`, `Xenova` | a healthy Hub (`Xenova/clip-vit-*` stands in for the real OpenAI CLIP repos) |
 * | `Slow`           | `.onnx` files trickle at ~2 MB/s (progress and Cancel can be seen)           |
 * | `Flaky`          | the first GET of each `.json` file answers 503; the first GET of each `.onnx` |
 * |                  | file stops halfway and drops the connection (then Range requests work)       |
 * | `Fault404`       | the vision `.onnx` files are missing (404, like the Hub's EntryNotFound)     |
 * | `FaultHtml`      | the vision `.onnx` files come back as an HTML page with status 200           |
 * | `FaultHonest`    | the vision `.onnx` files are cut in half, with a Content-Length that says so |
 * | `FaultDishonest` | the vision `.onnx` files announce their full size but stop halfway, always   |
 * | `NoApi`          | no tree API (`/api/models/…` answers 404), like a plain mirror               |
 *
 * `GET /api/models/{owner}/{name}/tree/{revision}/{folder}` lists a folder with each file's size, as
 * the Hub's tree API does. Other repository names answer 401 RepoNotFound, as the Hub does. `faults = false` turns every
 * owner into a healthy Hub (to test Retry). Every request is logged in `requests`.
 *
 * `folders` serves chosen repos from other model folders on disk instead (the full-size ViT-B/32
 * lookalike as `Xenova/clip-vit-base-patch32`): their files are streamed from disk on each request,
 * never held in memory, since they are hundreds of MB. Every response waits for the client to
 * drain, so a slow reader never makes the server buffer a whole file.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, readFileSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ROOT } from './lensPage';

export interface HubRequest {
  method: string;
  /** Path and query as requested. */
  path: string;
  /** Repo-relative file, when the path is a resolve URL. */
  file: string | null;
  owner: string | null;
  range: string | null;
  status: number;
}

export interface HubServer {
  /** `http://127.0.0.1:PORT`: pass as `?hub=` to the app. */
  url: string;
  requests: HubRequest[];
  /** When false, every owner behaves like a healthy Hub. */
  faults: boolean;
  /** Bytes of each file of the bundled folder, by repo-relative path (`onnx/vision_model.onnx`). */
  sizes: Record<string, number>;
  close(): Promise<void>;
}

export interface HubServerOptions {
  /**
   * Repos served from a model folder on disk instead of the bundled model, by repo id, e.g.
   * `{ 'Xenova/clip-vit-base-patch32': '/…/models-bench/clip-vit-base-patch32-lookalike' }`.
   * The owner still selects the behaviour.
   */
  folders?: Record<string, string>;
}

/** A file the server can send: its size, its ETag and its bytes `start..end` (inclusive) in chunks. */
interface ServedFile {
  size: number;
  etag: string;
  chunks(start: number, end: number): AsyncIterable<Buffer>;
}

const CHUNK = 64 * 1024;

/** A file held in memory (the bundled model: about 1 MB in all). */
function memoryFile(data: Buffer, folder: string): ServedFile {
  return {
    size: data.length,
    etag: `"${data.length.toString(16)}-${folder}"`,
    async *chunks(start, end) {
      for (let at = start; at <= end; at += CHUNK) yield data.subarray(at, Math.min(end + 1, at + CHUNK));
    },
  };
}

/** A file read from disk on each request. */
function diskFile(path: string, folder: string): ServedFile {
  const { size, mtimeMs } = statSync(path);
  return {
    size,
    etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}-${folder}"`,
    // A read stream is an async iterable of Buffers; leaving the loop early closes the file.
    chunks: (start, end) => createReadStream(path, { start, end, highWaterMark: CHUNK }) as AsyncIterable<Buffer>,
  };
}

/** Resolves when `res` takes more bytes again, or has closed (the client went away). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const MODEL_DIR = `${ROOT}public/models/clip-lens-shapes/`;

/** Repo-relative paths of every file below `dir` (which ends with `/`). */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = `${dir}${name}`;
    return statSync(full).isDirectory() ? listFiles(`${full}/`, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Error-Code, X-Error-Message',
  // The app's page is cross-origin isolated (COEP require-corp): resources from other origins must opt in.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses `bytes=N-` / `bytes=N-M` against a size; null when absent, 'bad' when unsatisfiable. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m || m[1] === undefined) return 'bad';
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return start >= size || end < start ? 'bad' : { start, end };
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startHubServer(options: HubServerOptions = {}): Promise<HubServer> {
  const bundled = new Map<string, ServedFile>();
  for (const f of listFiles(MODEL_DIR)) bundled.set(f, memoryFile(readFileSync(MODEL_DIR + f), 'clip-lens-shapes'));
  const sizes = Object.fromEntries([...bundled].map(([f, b]) => [f, b.size]));
  /** The repos of `options.folders`, each with its files (sizes read now, bytes on request). */
  const folders = new Map<string, Map<string, ServedFile>>();
  for (const [repo, path] of Object.entries(options.folders ?? {})) {
    const dir = path.endsWith('/') ? path : `${path}/`;
    const name = dir.split('/').at(-2) ?? repo;
    folders.set(repo, new Map(listFiles(dir).map((f) => [f, diskFile(dir + f, name)])));
  }
  /** Files whose first GET already happened, per owner (for the "first time only" faults). */
  const seen = new Set<string>();

  /** The files of a repo, or null for a repo this Hub does not have. */
  const repoFiles = (owner: string, name: string): Map<string, ServedFile> | null => {
    const servesBundled = name === 'clip-lens-shapes' || (owner === 'Xenova' && name.startsWith('clip-vit-'));
    return folders.get(`${owner}/${name}`) ?? (servesBundled ? bundled : null);
  };

  const state: HubServer = { url: '', requests: [], faults: true, sizes, close: () => Promise.resolve() };

  const handle = async (req: IncomingMessage, res: ServerResponse, log: HubRequest) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const reply = (status: number, headers: Record<string, string | number>, body?: Buffer | string) => {
      log.status = status;
      res.writeHead(status, { ...CORS_HEADERS, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method === 'OPTIONS') {
      return reply(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'Range, If-Range, Cache-Control',
        'Access-Control-Max-Age': '600',
      });
    }
    // The Hub's tree API for a folder (the app lists onnx/ to offer the weights a repo has).
    const tree = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/]+)\/(.+)$/.exec(path);
    if (tree && tree[1] !== undefined && tree[2] !== undefined && tree[4] !== undefined) {
      const listed = state.faults && tree[1] === 'NoApi' ? null : repoFiles(tree[1], decodeURIComponent(tree[2]));
      if (!listed) return reply(404, { 'Content-Type': 'text/plain' }, 'Not found');
      const dir = `${decodeURIComponent(tree[4]).replace(/\/+$/, '')}/`;
      const entries = [...listed].filter(([f]) => f.startsWith(dir) && !f.slice(dir.length).includes('/'))
        .map(([f, d]) => ({ type: 'file', oid: d.etag.replace(/"/g, ''), size: d.size, path: f, lfs: { oid: d.etag.replace(/"/g, ''), size: d.size, pointerSize: 134 } }));
      return reply(200, { 'Content-Type': 'application/json' }, JSON.stringify(entries));
    }
    if (!m || m[1] === undefined || m[2] === undefined || m[4] === undefined) {
      return reply(404, { 'Content-Type': 'text/plain' }, 'Not found');
    }
    const owner = m[1];
    const name = decodeURIComponent(m[2]);
    const file = decodeURIComponent(m[4]);
    log.owner = owner;
    log.file = file;
    const files = repoFiles(owner, name);
    if (!files) {
      return reply(401, { 'Content-Type': 'application/json', 'X-Error-Code': 'RepoNotFound' }, '{"error":"Repository not found"}');
    }
    const data = files.get(file);
    if (!data) {
      return reply(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' }, '{"error":"Entry not found"}');
    }
    const mode = state.faults ? owner : 'Test';
    const isOnnx = file.endsWith('.onnx');
    const isVision = /^onnx\/vision_model/.test(file);
    const first = req.method === 'GET' && !seen.has(`${owner}/${file}`);
    if (req.method === 'GET') seen.add(`${owner}/${file}`);
    const base = {
      'Content-Type': file.endsWith('.json') ? 'application/json; charset=utf-8' : 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: data.etag,
    };

    if (mode === 'Flaky' && first && !isOnnx) return reply(503, { 'Content-Type': 'text/plain' }, 'Service Unavailable');
    if (mode === 'Fault404' && isVision) {
      return reply(404, { 'Content-Type': 'application/json', 'X-Error-Code': 'EntryNotFound' }, '{"error":"Entry not found"}');
    }
    if (mode === 'FaultHtml' && isVision) {
      return reply(200, { 'Content-Type': 'text/html; charset=utf-8' }, '<!doctype html><html><head><title>Hugging Face – Sign in</title></head><body>Sign in</body></html>');
    }
    // How much of the file this mode serves as all of it: FaultHonest serves half a file.
    const size = mode === 'FaultHonest' && isVision ? Math.floor(data.size / 2) : data.size;
    const range = parseRange(req.headers.range, size);
    if (range === 'bad') return reply(416, { ...base, 'Content-Range': `bytes */${size}` });
    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    const headers: Record<string, string | number> = { ...base, 'Content-Length': end - start + 1 };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    log.status = range ? 206 : 200;
    res.writeHead(log.status, { ...CORS_HEADERS, ...headers });
    if (req.method === 'HEAD') return res.end();
    res.flushHeaders(); // a drop before any body byte still delivers the status line first

    // Where this response stops and drops the connection, if it does.
    const stopAt = (mode === 'Flaky' && isOnnx && first) || (mode === 'FaultDishonest' && isVision) ? Math.max(start, Math.floor(size / 2)) : null;
    const last = stopAt === null ? end : Math.min(end, stopAt - 1);
    if (last >= start) {
      for await (const piece of data.chunks(start, last)) {
        if (!res.write(piece) && !res.destroyed) await drained(res);
        if (mode === 'Slow' && isOnnx) await sleep(30); // ~2 MB/s
        if (res.destroyed) return; // the client went away (cancelled)
      }
    }
    if (last < end) {
      await sleep(50); // let the bytes leave before the connection drops
      res.socket?.destroy();
      return;
    }
    res.end();
  };

  const server = createServer((req, res) => {
    const log: HubRequest = { method: req.method ?? '', path: req.url ?? '', file: null, owner: null, range: req.headers.range ?? null, status: 0 };
    state.requests.push(log);
    handle(req, res, log).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return state;
}
