/**
 * Downloading one model file over HTTP: streamed with byte progress, cancellable, retried with
 * backoff on transient failures (network errors, 5xx, 429), resumed with a `Range` request where
 * the server allows it (206 + Content-Range) and restarted where it does not (200).
 *
 * The policy pieces are pure functions (unit-tested in download.test.ts); {@link downloadFile}
 * wires them to `fetch`, which tests replace.
 */

/** Why a download failed; `message` is written for the person using the app. */
export type DownloadErrorKind =
  | 'cancelled'
  | 'not-found' // 404: no such file in the repository
  | 'denied' // 401/403: no such repository, or private or gated
  | 'html' // a web page came back instead of the file
  | 'http' // another HTTP error, or a transient one that kept happening
  | 'network' // the connection kept failing
  | 'truncated' // the server stopped sending before the end and resuming did not help
  | 'rate-limited' // 429 (or 503) with a Retry-After longer than is worth waiting for here
  | 'timeout' // connections kept stalling: no byte arrived for `stallMs`
  | 'too-large' // more bytes than the Hub's listing said the file has
  | 'redirect' // fetch failed after a redirect: too many redirects (a loop), or a target that refuses this page
  | 'cors' // the server answers, but its CORS headers do not let this page read the file
  | 'memory'; // the browser could not allocate a buffer for the file

export class DownloadError extends Error {
  constructor(readonly kind: DownloadErrorKind, message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

// ---------------------------------------------------------------------------------------------
// Retry policy

/** How hard to try before giving up on a file. */
export interface RetryPolicy {
  /** Consecutive failed attempts that brought no new bytes before giving up. */
  maxFailures: number;
  /** Attempts in total for one file, whatever progress they made (a guard against endless loops). */
  maxAttempts: number;
  /** Delay before the first retry, doubled for each further consecutive failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Abort an attempt when no byte arrives for this long (a stalled connection). */
  stallMs: number;
  /**
   * Consecutive stalled attempts (no byte for `stallMs`, none of them making progress) before
   * giving up: each costs `stallMs`, so fewer than `maxFailures`.
   */
  maxStalls: number;
  /** The longest `Retry-After` waited out in place; a longer one ends the download with it. */
  maxRetryAfterMs: number;
}

/**
 * A minute of silence is a stall, not a slow link (a slow link still sends something): two in a
 * row end the download with a "timed out" message rather than five minutes of waiting.
 */
export const DEFAULT_RETRY: RetryPolicy = { maxFailures: 5, maxAttempts: 30, baseDelayMs: 300, maxDelayMs: 8000, stallMs: 60_000, maxStalls: 2, maxRetryAfterMs: 10_000 };

/** Statuses worth retrying: the server or a proxy is busy or failing, not the request wrong. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * A `Retry-After` header in milliseconds from `nowMs`: delta-seconds (`120`) or an HTTP date;
 * null when absent or unreadable (a cross-origin server must expose it for the page to see it).
 */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

/** `45 s`, `3 min`: how long to wait, for messages. */
export function formatWait(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 90 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/**
 * Delay before retry number `failures` (1-based count of consecutive failures): exponential,
 * capped, with ±25 % jitter so that many tabs do not retry in lockstep.
 */
export function retryDelayMs(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = policy.baseDelayMs * 2 ** Math.max(0, failures - 1);
  return Math.round(Math.min(policy.maxDelayMs, exp) * (0.75 + 0.5 * random()));
}

// ---------------------------------------------------------------------------------------------
// Range / resume logic

/** A parsed `Content-Range: bytes start-end/total` (total null for `*`). */
export interface ContentRange {
  start: number;
  end: number; // inclusive
  total: number | null;
}

/** Parses a `Content-Range` response header; null when absent or not a satisfied byte range. */
export function parseContentRange(header: string | null): ContentRange | null {
  if (!header) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (end < start || (total !== null && end >= total)) return null;
  return { start, end, total };
}

/** Request headers for a download that already holds `offset` bytes: `Range: bytes=offset-`. */
export function rangeHeaders(offset: number): Record<string, string> {
  return offset > 0 ? { Range: `bytes=${offset}-` } : {};
}

/** A non-negative integer header value, or null. */
export function parseLength(header: string | null): number | null {
  return header !== null && /^\s*\d+\s*$/.test(header) ? Number(header) : null;
}

/** What the file is known to be, from the first response: used to check that a resume continues it. */
export interface FileIdentity {
  total: number | null;
  etag: string | null;
}

/** The response headers that matter for resuming. */
export interface ResponseFacts {
  status: number;
  contentLength: number | null;
  contentRange: string | null;
  etag: string | null;
}

/**
 * How to use a successful (2xx) response to a request made with `offset` bytes already held:
 * - `append`: the body continues the file at `offset` (a 206 for exactly the asked range);
 * - `replace`: the body is the whole file from byte 0 (a 200: the server ignored the Range);
 * - `refetch`: discard what we hold and ask again without Range (the range does not continue
 *   the same file: other total, other ETag, other start).
 * `total` is the file's full size when known.
 */
export type ResumeDecision =
  | { action: 'append'; total: number | null; etag: string | null }
  | { action: 'replace'; total: number | null; etag: string | null }
  | { action: 'refetch' };

export function resumeDecision(res: ResponseFacts, offset: number, known: FileIdentity | null): ResumeDecision {
  if (res.status === 206) {
    const range = parseContentRange(res.contentRange);
    if (!range) return offset === 0 ? { action: 'replace', total: res.contentLength, etag: res.etag } : { action: 'refetch' };
    if (range.start !== offset) return { action: 'refetch' };
    const total = range.total ?? known?.total ?? null;
    if (known && known.total !== null && range.total !== null && range.total !== known.total) return { action: 'refetch' };
    // A changed ETag means the file changed on the server between the two requests.
    if (known && known.etag && res.etag && known.etag !== res.etag) return { action: 'refetch' };
    return offset === 0 ? { action: 'replace', total, etag: res.etag } : { action: 'append', total, etag: res.etag ?? known?.etag ?? null };
  }
  // 200 (or another 2xx): the whole file, whatever we asked for.
  return { action: 'replace', total: res.contentLength, etag: res.etag };
}

// ---------------------------------------------------------------------------------------------
// Bytes

/**
 * Collects the body in one buffer: allocated once at the announced size (no second copy at the
 * end for files of hundreds of MB), grown when the size is unknown or the body is longer.
 */
export class ByteSink {
  private buf: Uint8Array<ArrayBuffer>;
  length = 0;

  /** `file` names the file in the message when memory runs out. */
  constructor(expected: number | null, private readonly file = 'this file') {
    this.buf = allocate(expected ?? 1 << 20, file);
  }

  /** Forgets the bytes (a restart), re-allocating only if the new size does not fit. */
  reset(expected: number | null): void {
    this.length = 0;
    if (expected !== null && expected !== this.buf.byteLength) this.buf = allocate(expected, this.file);
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.byteLength > this.buf.byteLength) {
      const grown = allocate(Math.max(this.buf.byteLength * 2, this.length + chunk.byteLength), this.file);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.byteLength;
  }

  /** The bytes so far: the buffer itself when it is exactly full, else a trimmed copy. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.length === this.buf.byteLength ? this.buf : this.buf.slice(0, this.length);
  }
}

function allocate(n: number, file: string): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(n);
  } catch {
    throw new DownloadError('memory', `${file}: the browser could not set aside ${formatMB(n)} of memory for it: close other tabs, or pick a smaller model or variant (q8).`);
  }
}

function formatMB(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${n.toLocaleString('en-US')} bytes`;
}

// ---------------------------------------------------------------------------------------------
// The download loop

export interface DownloadOptions {
  signal: AbortSignal;
  /** Bytes held so far and the full size when known; called for every chunk. */
  onProgress?: (loaded: number, total: number | null) => void;
  policy?: RetryPolicy;
  /**
   * The file's size as the Hub's listing gave it, when known: a body longer than this is stopped
   * (a server that sends more than it said, or a 50 GB file behind a small listing), and progress
   * counts towards it (a compressed transfer's Content-Length is the compressed size).
   */
  expectedSize?: number | null;
  /** Replaced in tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A complete download (not yet verified: see ./verify.ts). */
export interface Downloaded {
  bytes: Uint8Array<ArrayBuffer>;
  /** The size the server announced (Content-Length or Content-Range total), if any. */
  total: number | null;
  contentType: string;
  /** Requests made (1 when nothing went wrong). */
  attempts: number;
}

const cancelled = () => new DownloadError('cancelled', 'Loading was cancelled.');

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled());
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(cancelled()); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The message for a permanent HTTP failure of `file`. */
export function httpErrorMessage(file: string, status: number, statusText: string, errorCode: string | null): string {
  if (errorCode === 'GatedRepo') {
    return `${file}: this repository is gated (HTTP ${status}): it needs an account that accepted its terms, which this app cannot use.`;
  }
  if (status === 404 && errorCode !== 'RepoNotFound') {
    const variantHint = file.endsWith('.onnx') ? ' If the repository has other weights, pick another variant.' : '';
    return `${file}: this repository has no such file (HTTP 404) — is the repo id right?${variantHint}`;
  }
  if (status === 401 || status === 404) {
    return `${file}: the Hub has no public repository by this name (HTTP ${status}) — is the repo id right? Private and gated repositories cannot be loaded here.`;
  }
  if (status === 403) return `${file}: the server refused access (HTTP 403).`;
  return `${file}: the server answered HTTP ${status}${statusText ? ` ${statusText}` : ''}.`;
}

/** True when the response announces a web page (an error or login page in place of the file). */
export function isHtmlContentType(contentType: string): boolean {
  return /\btext\/html\b|\bapplication\/xhtml\+xml\b/i.test(contentType);
}

/**
 * Downloads `url` completely. `file` names the file in messages (`onnx/vision_model.onnx`).
 *
 * @throws DownloadError with a message for people; `cancelled` when `opts.signal` aborts.
 */
export async function downloadFile(url: string, file: string, opts: DownloadOptions): Promise<Downloaded> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? sleepFor;
  const { signal } = opts;
  let sink: ByteSink | null = null;
  let known: FileIdentity | null = null;
  let contentType = '';
  let attempts = 0;
  let failures = 0;
  let lastProblem = '';
  let lastKind: DownloadErrorKind = 'network';
  let lastStatus = 0;
  let stalls = 0;
  const expected = opts.expectedSize ?? null;
  let received = 0; // bytes the current attempt brought: progress resets the failure count

  /**
   * Counts a failed attempt; throws when the policy says stop, else waits before the next one
   * (`waitMs` when the server said how long, e.g. Retry-After).
   */
  const failed = async (kind: DownloadErrorKind, problem: string, madeProgress: boolean, waitMs: number | null = null) => {
    failures = madeProgress ? 1 : failures + 1;
    stalls = madeProgress ? 0 : stalls;
    lastKind = kind;
    lastProblem = problem;
    if (kind === 'timeout' && ++stalls >= policy.maxStalls) throw giveUp();
    if (failures >= policy.maxFailures || attempts >= policy.maxAttempts) throw await diagnosed(giveUp());
    await sleep(waitMs ?? retryDelayMs(failures, policy), signal);
  };
  const times = () => `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  const giveUp = () => {
    const held = sink?.length ?? 0;
    if (lastKind === 'timeout') {
      return new DownloadError('timeout', `${file} timed out: no data for ${formatWait(policy.stallMs)} (${times()}). The server or the connection stalled: retry later.`);
    }
    if (known?.total && held > 0 && held < known.total) {
      // Part of the file arrived and resuming could not fetch the rest: that is what to say.
      return new DownloadError('truncated', `${file} is incomplete: the server stopped sending at ${formatMB(held)} of ${formatMB(known.total)} (${times()}, resuming did not help: ${lastProblem}). Retry later.`);
    }
    if (lastKind === 'http' && lastStatus === 429) {
      return new DownloadError('rate-limited', `${file}: the Hub is rate-limiting downloads (HTTP 429), still after ${times()}: try again in a minute.`);
    }
    if (lastKind === 'http') return new DownloadError('http', `${file}: ${lastProblem}, still after ${times()}. The server may be busy: retry later.`);
    return new DownloadError('network', `${file}: ${lastProblem}, still after ${times()}. Check the connection and retry.`);
  };
  /**
   * When fetch itself kept failing, the browser says only "Failed to fetch": two small probes tell
   * a redirect problem and a CORS refusal from a network that is down (see {@link diagnoseFetchFailure}).
   */
  const diagnosed = async (e: DownloadError): Promise<DownloadError> => {
    if (e.kind !== 'network' || received > 0 || sink?.length) return e;
    const cause = await diagnoseFetchFailure(url, doFetch, signal);
    if (cause === 'redirect') {
      return new DownloadError('redirect', `${file}: too many redirects — the server keeps redirecting (a redirect loop?), or the address it redirects to does not allow this page (${times()}). Check the Hub address.`);
    }
    if (cause === 'cors') {
      return new DownloadError('cors', `${file}: the server's CORS headers do not allow this page to read the file (no Access-Control-Allow-Origin for this site), although the server answers. A Hub mirror must send them: check the Hub address.`);
    }
    return e;
  };
  /** `more bytes arrived` / `the server announces 50.00 GB`: what exceeded the listing. */
  const tooLarge = (what: string) => new DownloadError('too-large',
    `${file} is larger than it said: ${what}, more than the ${formatMB(expected ?? 0)} the Hub listed, so the download was stopped and nothing was stored. The repository or the server is broken: retry later, or pick another variant.`);

  for (;;) {
    if (signal.aborted) throw cancelled();
    attempts++;
    // Resume only when we know the full size we are resuming towards.
    const offset = sink && known?.total != null && sink.length > 0 && sink.length < known.total ? sink.length : 0;
    const attempt = new AbortController();
    const onAbort = () => attempt.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let stalled = false;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => { stalled = true; attempt.abort(); }, policy.stallMs);
    };
    received = 0;
    try {
      armStall();
      let res: Response;
      try {
        res = await doFetch(url, { signal: attempt.signal, cache: 'no-store', headers: rangeHeaders(offset) });
      } catch (e) {
        if (signal.aborted) throw cancelled();
        if (stalled) await failed('timeout', 'the server stopped answering', false);
        else await failed('network', `the network request failed (${errorText(e)})`, false);
        continue;
      }
      if (res.status === 416 && offset > 0) {
        // The range is past the end: the file changed or our idea of its size was wrong.
        void res.body?.cancel().catch(() => undefined);
        sink?.reset(null);
        known = null;
        await failed('http', 'the server refused to resume the download (HTTP 416)', false);
        continue;
      }
      if (!res.ok) {
        void res.body?.cancel().catch(() => undefined);
        if (isTransientStatus(res.status)) {
          lastStatus = res.status;
          const wait = retryAfterMs(res.headers.get('Retry-After'), Date.now());
          if (wait !== null && wait > policy.maxRetryAfterMs) {
            // The server says how long: longer than is worth holding a download open for.
            const what = res.status === 429 ? 'the Hub is rate-limiting downloads (HTTP 429)' : `the server is unavailable (HTTP ${res.status})`;
            throw new DownloadError(res.status === 429 ? 'rate-limited' : 'http', `${file}: ${what}: try again in ${formatWait(wait)}.`);
          }
          await failed('http', `the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, false, wait);
          continue;
        }
        const kind = res.status === 404 ? 'not-found' : res.status === 401 || res.status === 403 ? 'denied' : 'http';
        throw new DownloadError(kind, httpErrorMessage(file, res.status, res.statusText, res.headers.get('X-Error-Code')));
      }
      const type = res.headers.get('Content-Type') ?? '';
      if (isHtmlContentType(type)) {
        void res.body?.cancel().catch(() => undefined);
        throw new DownloadError('html', `${file} came back as a web page (HTML), not the model file: the address does not lead to a model repository (check the repo id and the Hub address), or a login or proxy page answered.`);
      }
      const decision = resumeDecision({
        status: res.status,
        contentLength: parseLength(res.headers.get('Content-Length')),
        contentRange: res.headers.get('Content-Range'),
        etag: res.headers.get('ETag'),
      }, offset, known);
      if (decision.action === 'refetch') {
        void res.body?.cancel().catch(() => undefined);
        sink?.reset(null);
        known = null;
        await failed('http', 'the server sent a different part of the file than asked', false);
        continue;
      }
      if (expected !== null && decision.total !== null && decision.total > expected) {
        void res.body?.cancel().catch(() => undefined);
        throw tooLarge(`the server announces ${formatMB(decision.total)}`);
      }
      if (decision.action === 'replace' && sink) sink.reset(decision.total);
      const s = sink ?? (sink = new ByteSink(decision.total, file));
      known = { total: decision.total, etag: decision.etag };
      contentType = type || contentType;
      // What progress counts towards: the listing's size when known, else the announced one
      // until the body outgrows it (a compressed transfer announces the compressed size).
      const total = known.total;
      const shownTotal = () => expected ?? (total !== null && s.length <= total ? total : null);
      opts.onProgress?.(s.length, shownTotal());
      if (!res.body) {
        s.append(new Uint8Array(await res.arrayBuffer()));
      } else {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            armStall();
            received += value.byteLength;
            if (expected !== null && s.length + value.byteLength > expected) {
              void reader.cancel().catch(() => undefined);
              throw tooLarge('more bytes arrived');
            }
            s.append(value);
            opts.onProgress?.(s.length, shownTotal());
          }
        } catch (e) {
          if (e instanceof DownloadError) throw e;
          if (signal.aborted) throw cancelled();
          if (stalled) await failed('timeout', 'the download stalled', received > 0);
          else await failed('truncated', `the connection broke (${errorText(e)})`, received > 0);
          continue;
        }
      }
      if (known.total !== null && s.length < known.total) {
        // The body ended cleanly but short: resume from here.
        await failed('truncated', 'the server stopped sending before the end', received > 0);
        continue;
      }
      return { bytes: s.bytes(), total: known.total, contentType, attempts };
    } finally {
      clearTimeout(stallTimer);
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * Why `fetch(url)` rejects, as far as a page can tell: a HEAD that does not follow redirects
 * comes back as a redirect (`redirect`: following it failed — too many hops, or a target without
 * CORS headers), or only a `no-cors` request gets an answer (`cors`: the server is there but does
 * not let this page read it), or neither answers (`network`). A probe that takes over 5 s counts
 * as no answer.
 */
export async function diagnoseFetchFailure(url: string, doFetch: typeof fetch, signal: AbortSignal): Promise<'redirect' | 'cors' | 'network'> {
  const probe = async (init: RequestInit): Promise<Response | null> => {
    const c = new AbortController();
    const onAbort = () => c.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(onAbort, 5000);
    try {
      return await doFetch(url, { ...init, method: 'HEAD', cache: 'no-store', signal: c.signal });
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  };
  const manual = await probe({ redirect: 'manual' });
  if (signal.aborted) throw cancelled();
  if (manual) return manual.type === 'opaqueredirect' ? 'redirect' : 'network';
  const opaque = await probe({ mode: 'no-cors' });
  if (signal.aborted) throw cancelled();
  return opaque ? 'cors' : 'network';
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
