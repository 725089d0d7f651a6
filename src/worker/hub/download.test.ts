import { describe, expect, test } from 'vitest';
import {
  ByteSink, DEFAULT_RETRY, DownloadError, diagnoseFetchFailure, downloadFile, formatWait, httpErrorMessage, isTransientStatus,
  parseContentRange, rangeHeaders, resumeDecision, retryAfterMs, retryDelayMs, type RetryPolicy,
} from './download';

const FILE = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const fast: RetryPolicy = { ...DEFAULT_RETRY, baseDelayMs: 1, maxDelayMs: 1 };
const noSleep = async () => undefined;

/** A body that sends `bytes` and then either ends or breaks the connection (an error mid-stream). */
function body(bytes: Uint8Array, breakAfter = false): ReadableStream<Uint8Array> {
  // Pull-based: erroring a stream discards what is queued, so chunks are handed out one by one.
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at < bytes.length) {
        c.enqueue(bytes.slice(at, at + 100));
        at += 100;
      } else if (breakAfter) c.error(new TypeError('network error'));
      else c.close();
    },
  });
}

interface Served { range: string | null }

/** A fake server: `plan` decides each response from the request's Range header and attempt number. */
function server(plan: (range: string | null, attempt: number) => Response | Error) {
  const seen: Served[] = [];
  const fetchFn = (async (_url: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    seen.push({ range: headers.get('Range') });
    const r = plan(headers.get('Range'), seen.length);
    if (r instanceof Error) throw r;
    return r;
  }) as typeof fetch;
  return { seen, fetchFn };
}

function ok(bytes: Uint8Array, init: { breakAfter?: boolean; length?: number; type?: string } = {}): Response {
  return new Response(body(bytes, init.breakAfter), {
    status: 200,
    headers: { 'Content-Length': String(init.length ?? bytes.length), 'Content-Type': init.type ?? 'application/octet-stream', ETag: '"abc"' },
  });
}

function partial(from: number, total = FILE.length, etag = '"abc"'): Response {
  const slice = FILE.slice(from);
  return new Response(body(slice), {
    status: 206,
    headers: { 'Content-Length': String(slice.length), 'Content-Range': `bytes ${from}-${total - 1}/${total}`, ETag: etag },
  });
}

const download = (fetchFn: typeof fetch, signal = new AbortController().signal) =>
  downloadFile('https://hub.test/o/r/resolve/main/onnx/vision_model.onnx', 'onnx/vision_model.onnx', { signal, fetch: fetchFn, policy: fast, sleep: noSleep });

async function failure(p: Promise<unknown>): Promise<DownloadError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DownloadError) return e;
    throw e;
  }
  throw new Error('expected the download to fail');
}

describe('Range and Content-Range', () => {
  test('Range header asks for the rest of the file from the first missing byte', () => {
    expect(rangeHeaders(0)).toEqual({});
    expect(rangeHeaders(500)).toEqual({ Range: 'bytes=500-' });
  });

  test('parses satisfied byte ranges, with or without a known total', () => {
    expect(parseContentRange('bytes 500-999/1000')).toEqual({ start: 500, end: 999, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
    expect(parseContentRange('BYTES 1-1/2')).toEqual({ start: 1, end: 1, total: 2 });
  });

  test('refuses unsatisfied, malformed and inconsistent ranges', () => {
    expect(parseContentRange(null)).toBeNull();
    expect(parseContentRange('bytes */1000')).toBeNull();
    expect(parseContentRange('bytes 10-5/100')).toBeNull();
    expect(parseContentRange('bytes 0-1000/1000')).toBeNull(); // end past the total
    expect(parseContentRange('items 0-1/2')).toBeNull();
  });
});

describe('resumeDecision', () => {
  const known = { total: 1000, etag: '"abc"' };
  const facts = (status: number, contentRange: string | null, etag: string | null = '"abc"') =>
    ({ status, contentLength: null, contentRange, etag });

  test('a 206 for exactly the asked range continues the file', () => {
    expect(resumeDecision(facts(206, 'bytes 500-999/1000'), 500, known)).toEqual({ action: 'append', total: 1000, etag: '"abc"' });
  });

  test('a 200 to a Range request is the whole file: start again from its first byte', () => {
    expect(resumeDecision({ status: 200, contentLength: 1000, contentRange: null, etag: '"abc"' }, 500, known))
      .toEqual({ action: 'replace', total: 1000, etag: '"abc"' });
  });

  test('a range of another file (other start, other total, other ETag) is refetched from scratch', () => {
    expect(resumeDecision(facts(206, 'bytes 400-999/1000'), 500, known)).toEqual({ action: 'refetch' });
    expect(resumeDecision(facts(206, 'bytes 500-1199/1200'), 500, known)).toEqual({ action: 'refetch' });
    expect(resumeDecision(facts(206, 'bytes 500-999/1000', '"new"'), 500, known)).toEqual({ action: 'refetch' });
    expect(resumeDecision(facts(206, null), 500, known)).toEqual({ action: 'refetch' });
  });

  test('a 200 to a first request takes its Content-Length as the size', () => {
    expect(resumeDecision({ status: 200, contentLength: 1000, contentRange: null, etag: null }, 0, null))
      .toEqual({ action: 'replace', total: 1000, etag: null });
  });
});

describe('retry policy', () => {
  test('retries busy or failing servers, not wrong requests', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(isTransientStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 410, 416]) expect(isTransientStatus(s)).toBe(false);
  });

  test('backoff doubles, is capped and jittered by ±25 %', () => {
    const p: RetryPolicy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, p, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryDelayMs(1, p, () => 0)).toBe(75);
    expect(retryDelayMs(1, p, () => 1)).toBe(125);
  });

  test('404, 401 and 403 say what to check', () => {
    expect(httpErrorMessage('onnx/vision_model_fp16.onnx', 404, '', 'EntryNotFound')).toMatch(/this repository has no such file.*is the repo id right\?.*another variant/);
    expect(httpErrorMessage('config.json', 401, '', 'RepoNotFound')).toMatch(/no public repository by this name.*repo id/);
    expect(httpErrorMessage('config.json', 403, '', 'GatedRepo')).toMatch(/gated/);
    expect(httpErrorMessage('config.json', 401, '', 'GatedRepo')).toMatch(/gated/);
  });
});

describe('ByteSink', () => {
  test('fills a buffer of the announced size without a copy at the end', () => {
    const sink = new ByteSink(6);
    sink.append(Uint8Array.of(1, 2, 3));
    sink.append(Uint8Array.of(4, 5, 6));
    const out = sink.bytes();
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sink.bytes()).toBe(out); // the same buffer, not a copy
  });

  test('grows when the size is unknown or exceeded, and trims to what arrived', () => {
    const sink = new ByteSink(2);
    sink.append(Uint8Array.of(1, 2, 3));
    sink.append(Uint8Array.of(4));
    expect(Array.from(sink.bytes())).toEqual([1, 2, 3, 4]);
    sink.reset(null);
    expect(sink.bytes().length).toBe(0);
  });
});

describe('downloadFile', () => {
  test('streams a whole file with progress up to the announced size', async () => {
    const { fetchFn, seen } = server(() => ok(FILE));
    const progress: [number, number | null][] = [];
    const got = await downloadFile('u', 'f', { signal: new AbortController().signal, fetch: fetchFn, onProgress: (l, t) => progress.push([l, t]) });
    expect(got.bytes).toEqual(FILE);
    expect(got.total).toBe(1000);
    expect(got.attempts).toBe(1);
    expect(seen).toEqual([{ range: null }]);
    expect(progress.at(-1)).toEqual([1000, 1000]);
    expect(progress.every(([l], i) => i === 0 || l >= (progress[i - 1]?.[0] ?? 0))).toBe(true);
  });

  test('a connection that breaks mid-file resumes with a Range request and a 206', async () => {
    const { fetchFn, seen } = server((range) => (range ? partial(Number(/bytes=(\d+)-/.exec(range)?.[1])) : ok(FILE.slice(0, 400), { breakAfter: true, length: 1000 })));
    const got = await download(fetchFn);
    expect(got.bytes).toEqual(FILE);
    expect(seen).toEqual([{ range: null }, { range: 'bytes=400-' }]);
  });

  test('a server that ignores Range (200) restarts the file instead of appending', async () => {
    const { fetchFn, seen } = server((_r, attempt) => (attempt === 1 ? ok(FILE.slice(0, 300), { breakAfter: true, length: 1000 }) : ok(FILE)));
    const got = await download(fetchFn);
    expect(got.bytes).toEqual(FILE);
    expect(seen.map((s) => s.range)).toEqual([null, 'bytes=300-']);
  });

  test('a file that changed between requests (other ETag) is fetched again from the start', async () => {
    const { fetchFn, seen } = server((range, attempt) => {
      if (attempt === 1) return ok(FILE.slice(0, 300), { breakAfter: true, length: 1000 });
      if (range) return partial(300, 1000, '"changed"');
      return ok(FILE);
    });
    const got = await download(fetchFn);
    expect(got.bytes).toEqual(FILE);
    expect(seen.map((s) => s.range)).toEqual([null, 'bytes=300-', null]);
  });

  test('network errors and 5xx are retried; the download then succeeds', async () => {
    const { fetchFn, seen } = server((_r, attempt) =>
      attempt === 1 ? new TypeError('Failed to fetch') : attempt === 2 ? new Response('busy', { status: 503 }) : ok(FILE));
    const got = await download(fetchFn);
    expect(got.bytes).toEqual(FILE);
    expect(seen.length).toBe(3);
  });

  test('gives up after maxFailures attempts without progress, saying why', async () => {
    const { fetchFn, seen } = server(() => new Response('down', { status: 502, statusText: 'Bad Gateway' }));
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('http');
    expect(e.message).toMatch(/HTTP 502.*after 5 attempts/);
    expect(seen.length).toBe(fast.maxFailures);
  });

  test('a server that keeps stopping at the same byte ends in a "truncated" error with the sizes', async () => {
    const { fetchFn } = server((range) => {
      if (!range) return ok(FILE.slice(0, 600), { breakAfter: true, length: 1000 });
      return new Response(body(new Uint8Array(0), true), { status: 206, headers: { 'Content-Range': 'bytes 600-999/1000', 'Content-Length': '400' } });
    });
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('truncated');
    expect(e.message).toMatch(/incomplete.*stopped sending at 600 bytes of 1,000 bytes/);
  });

  test('404 is not retried and says the file is missing from the repository', async () => {
    const { fetchFn, seen } = server(() => new Response('Entry not found', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } }));
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('not-found');
    expect(e.message).toMatch(/no such file.*repo id/);
    expect(seen.length).toBe(1);
  });

  test('an HTML page in place of the file is refused at once', async () => {
    const { fetchFn } = server(() => ok(new TextEncoder().encode('<!doctype html><title>Sign in</title>'), { type: 'text/html; charset=utf-8' }));
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('html');
  });

  test('cancelling stops the download with a "cancelled" error', async () => {
    const abort = new AbortController();
    const fetchFn = (async (_u: RequestInfo | URL, init?: RequestInit) => {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(FILE.slice(0, 100));
          init?.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
        },
      });
      return new Response(stream, { headers: { 'Content-Length': '1000' } });
    }) as typeof fetch;
    const p = downloadFile('u', 'f', { signal: abort.signal, fetch: fetchFn, policy: fast, sleep: noSleep, onProgress: (l) => { if (l >= 100) abort.abort(); } });
    const e = await failure(p);
    expect(e.kind).toBe('cancelled');
  });

  test('a stalled connection is abandoned and resumed', async () => {
    let calls = 0;
    const fetchFn = (async (_u: RequestInfo | URL, init?: RequestInit) => {
      calls++;
      if (calls === 2) return partial(100);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(FILE.slice(0, 100)); // then nothing, ever
          init?.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
        },
      });
      return new Response(stream, { headers: { 'Content-Length': '1000' } });
    }) as typeof fetch;
    const got = await downloadFile('u', 'f', { signal: new AbortController().signal, fetch: fetchFn, policy: { ...fast, stallMs: 30 }, sleep: noSleep });
    expect(got.bytes).toEqual(FILE);
    expect(calls).toBe(2);
  });

  test('Retry-After: a short wait is waited out, a long one ends at once with "try again in N"', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => { slept.push(ms); };
    const busy = (after: string) => new Response('slow down', { status: 429, headers: { 'Retry-After': after } });
    const short = server((_r, attempt) => (attempt === 1 ? busy('1') : ok(FILE)));
    const got = await downloadFile('u', 'f', { signal: new AbortController().signal, fetch: short.fetchFn, policy: fast, sleep });
    expect(got.bytes).toEqual(FILE);
    expect(slept).toEqual([1000]);
    const long = server(() => busy('120'));
    const e = await failure(downloadFile('u', 'onnx/vision_model.onnx', { signal: new AbortController().signal, fetch: long.fetchFn, policy: fast, sleep }));
    expect(e.kind).toBe('rate-limited');
    expect(e.message).toBe('onnx/vision_model.onnx: the Hub is rate-limiting downloads (HTTP 429): try again in 2 min.');
    expect(long.seen.length).toBe(1);
  });

  test('429 without Retry-After is retried, then reported as rate-limiting', async () => {
    const { fetchFn } = server(() => new Response('', { status: 429 }));
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('rate-limited');
    expect(e.message).toMatch(/rate-limiting downloads \(HTTP 429\), still after 5 attempts: try again in a minute/);
  });

  test('headers, then silence: after maxStalls stalled attempts, "timed out: no data for N s"', async () => {
    let calls = 0;
    const fetchFn = (async (_u: RequestInfo | URL, init?: RequestInit) => {
      calls++;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          init?.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
        },
      });
      return new Response(stream, { headers: { 'Content-Length': '1000' } });
    }) as typeof fetch;
    const e = await failure(downloadFile('u', 'onnx/vision_model.onnx', { signal: new AbortController().signal, fetch: fetchFn, policy: { ...fast, stallMs: 20 }, sleep: noSleep }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/^onnx\/vision_model\.onnx timed out: no data for 1 s \(2 attempts\)/);
    expect(calls).toBe(DEFAULT_RETRY.maxStalls);
  });

  test('a body longer than the listed size is stopped; an announced size over it is refused before the body', async () => {
    const longer = server(() => new Response(body(new Uint8Array(3000)), { status: 200 }));
    const e = await failure(downloadFile('u', 'f.onnx', { signal: new AbortController().signal, fetch: longer.fetchFn, policy: fast, sleep: noSleep, expectedSize: 1000 }));
    expect(e.kind).toBe('too-large');
    expect(e.message).toMatch(/f\.onnx is larger than it said: more bytes arrived, more than the 1,000 bytes the Hub listed/);
    const huge = server(() => ok(FILE, { length: 50e9 }));
    const e2 = await failure(downloadFile('u', 'f.onnx', { signal: new AbortController().signal, fetch: huge.fetchFn, policy: fast, sleep: noSleep, expectedSize: 1000 }));
    expect(e2.message).toMatch(/the server announces 50\.00 GB, more than the 1,000 bytes/);
  });

  test('a compressed transfer (body longer than Content-Length) is kept whole; progress counts towards the listed size', async () => {
    const { fetchFn } = server(() => ok(FILE, { length: 300 }));
    const totals: (number | null)[] = [];
    const got = await downloadFile('u', 'f', { signal: new AbortController().signal, fetch: fetchFn, policy: fast, sleep: noSleep, expectedSize: 1000,
      onProgress: (_l, t) => totals.push(t) });
    expect(got.bytes).toEqual(FILE);
    expect(new Set(totals)).toEqual(new Set([1000]));
    // Without a listing, progress shows no total once the body outgrows the announced one.
    const unlisted: (number | null)[] = [];
    await downloadFile('u', 'f', { signal: new AbortController().signal, fetch: fetchFn, policy: fast, sleep: noSleep, onProgress: (l, t) => unlisted.push(l > 300 ? t : 0) });
    expect(unlisted.at(-1)).toBeNull();
  });
});

describe('what "Failed to fetch" hides', () => {
  const probing = (answer: (init: RequestInit) => Response | Error) => {
    const asked: RequestInit[] = [];
    const fetchFn = (async (_u: RequestInfo | URL, init?: RequestInit) => {
      asked.push(init ?? {});
      const r = answer(init ?? {});
      if (r instanceof Error) throw r;
      return r;
    }) as typeof fetch;
    return { asked, fetchFn };
  };
  const redirectResponse = () => Object.defineProperty(new Response(null), 'type', { value: 'opaqueredirect' });

  test('a redirect the browser would not follow, a CORS refusal, a network that is down', async () => {
    const signal = new AbortController().signal;
    const loop = probing(() => redirectResponse());
    expect(await diagnoseFetchFailure('u', loop.fetchFn, signal)).toBe('redirect');
    expect(loop.asked[0]).toMatchObject({ method: 'HEAD', redirect: 'manual' });
    const cors = probing((init) => (init.mode === 'no-cors' ? new Response(null) : new TypeError('Failed to fetch')));
    expect(await diagnoseFetchFailure('u', cors.fetchFn, signal)).toBe('cors');
    const down = probing(() => new TypeError('Failed to fetch'));
    expect(await diagnoseFetchFailure('u', down.fetchFn, signal)).toBe('network');
  });

  test('downloadFile names the cause once its retries are spent', async () => {
    const { fetchFn } = probing((init) => (init.redirect === 'manual' ? redirectResponse() : new TypeError('Failed to fetch')));
    const e = await failure(download(fetchFn));
    expect(e.kind).toBe('redirect');
    expect(e.message).toMatch(/too many redirects/);
    const cors = probing((init) => (init.mode === 'no-cors' ? new Response(null) : new TypeError('Failed to fetch')));
    const e2 = await failure(download(cors.fetchFn));
    expect(e2.kind).toBe('cors');
    expect(e2.message).toMatch(/CORS headers do not allow this page/);
  });

  test('Retry-After as seconds or a date; waits in words', () => {
    expect(retryAfterMs('30', 0)).toBe(30_000);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:01:00 GMT', 15_000)).toBe(45_000);
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs(null, 0)).toBeNull();
    expect(formatWait(45_000)).toBe('45 s');
    expect(formatWait(60_000)).toBe('60 s');
    expect(formatWait(600_000)).toBe('10 min');
  });
});
