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
 * | `FaultLong`      | the vision `.onnx` files come chunked (no Content-Length) with 256 kB more   |
 * |                  | than the file, i.e. more than the tree API lists                             |
 * | `FaultOverrun`   | the vision `.onnx` files announce their true size, then the server writes    |
 * |                  | 64 kB more on the socket (browsers keep Content-Length bytes: harmless)      |
 * | `FaultLoop`      | the vision `.onnx` files redirect (302) to `?hop=1`, which redirects back    |
 * | `FaultHuge`      | `onnx/vision_model.onnx` (fp32) claims 50 GB: tree API, HEAD and GET         |
 * |                  | Content-Length say 50e9 (a GET sends the headers, then nothing)              |
 * | `FaultStall`     | the vision `.onnx` files send their headers, then no byte ever               |
 * | `FaultBusy`      | the vision `.onnx` files answer 429 with `Retry-After: 120` (exposed)        |
 * | `FaultCors`      | the vision `.onnx` files come without Access-Control-Allow-Origin            |
 * | `FaultGzip`      | the vision `.onnx` files are sent `Content-Encoding: gzip` (Content-Length   |
 * |                  | is the compressed size, Range ignored): the browser decodes, the file is fine |
 * | `FaultGzipRaw`   | the vision `.onnx` files are gzip-compressed bytes without Content-Encoding  |
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
import { gzipSync } from 'node:zlib';
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
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, Retry-After, X-Error-Code, X-Error-Message',
  // The app's page is cross-origin isolated (COEP require-corp): resources from other origins must opt in.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `FaultHuge` claims its fp32 vision file weighs. */
export const HUGE_BYTES = 50e9;
const HUGE_FILE = 'onnx/vision_model.onnx';

/** All of a served file in one buffer (the bundled model's files are small). */
async function wholeFile(data: ServedFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of data.chunks(0, data.size - 1)) parts.push(piece);
  return Buffer.concat(parts);
}

/** Resolves when the client has gone away (or after `ms`). */
function closedOrAfter(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

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
        .map(([f, d]) => {
          const size = state.faults && tree[1] === 'FaultHuge' && f === HUGE_FILE ? HUGE_BYTES : d.size;
          return { type: 'file', oid: d.etag.replace(/"/g, ''), size, path: f, lfs: { oid: d.etag.replace(/"/g, ''), size, pointerSize: 134 } };
        });
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
    const send = (status: number, headers: Record<string, string | number>) => {
      log.status = status;
      res.writeHead(status, headers);
    };
    /**
     * The hostile owners' answers for a vision `.onnx` file (see the table above); false when
     * `mode` is not one of them (the file is then served as usual).
     */
    const hostile = async (mode: string, file: string, data: ServedFile, base: Record<string, string>): Promise<boolean> => {
      const head = req.method === 'HEAD';
      switch (mode) {
        case 'FaultLoop': {
          const back = (req.url ?? '').includes('hop=1') ? path : `${path}?hop=1`;
          reply(302, { Location: back, 'Content-Length': 0 });
          return true;
        }
        case 'FaultBusy':
          reply(429, { 'Content-Type': 'text/plain', 'Retry-After': '120' }, 'Too Many Requests');
          return true;
        case 'FaultCors': {
          // Everything a healthy answer has but the header that lets another origin read it.
          const rest: Record<string, string> = { ...CORS_HEADERS };
          delete rest['Access-Control-Allow-Origin'];
          send(200, { ...rest, ...base, 'Content-Length': data.size });
          res.end(head ? undefined : await wholeFile(data));
          return true;
        }
        case 'FaultHuge': {
          if (file !== HUGE_FILE) return false;
          send(200, { ...CORS_HEADERS, ...base, 'Content-Length': HUGE_BYTES });
          if (head) {
            res.end();
            return true;
          }
          res.flushHeaders();
          await closedOrAfter(res, 30_000);
          res.destroy();
          return true;
        }
        case 'FaultStall':
          send(200, { ...CORS_HEADERS, ...base, 'Content-Length': data.size });
          if (head) {
            res.end();
            return true;
          }
          res.flushHeaders();
          await closedOrAfter(res, 120_000); // no byte, until the client gives up
          res.destroy();
          return true;
        case 'FaultLong': {
          // Chunked, so the browser cannot cut it at a Content-Length: all of it reaches the app.
          const extra = Buffer.alloc(256 * 1024, 0x5a);
          if (head) {
            reply(200, { ...base, 'Content-Length': data.size });
            return true;
          }
          send(200, { ...CORS_HEADERS, ...base });
          res.write(await wholeFile(data));
          res.end(extra);
          return true;
        }
        case 'FaultOverrun': {
          if (head) {
            reply(200, { ...base, 'Content-Length': data.size });
            return true;
          }
          // Raw on the socket: node's response would refuse bytes past its Content-Length.
          const socket = res.socket;
          if (!socket) return false;
          log.status = 200;
          const headers = { ...CORS_HEADERS, ...base, 'Content-Length': String(data.size), Connection: 'close' };
          socket.write(`HTTP/1.1 200 OK\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
          socket.write(await wholeFile(data));
          socket.end(Buffer.alloc(64 * 1024, 0x5a));
          return true;
        }
        case 'FaultGzip':
        case 'FaultGzipRaw': {
          const zipped = gzipSync(await wholeFile(data));
          const encoding = mode === 'FaultGzip' ? { 'Content-Encoding': 'gzip' } : {};
          reply(200, { ...base, ...encoding, 'Content-Length': zipped.length }, zipped);
          return true;
        }
        default:
          return false;
      }
    };
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
    if (isVision && (await hostile(mode, file, data, base))) return;
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
