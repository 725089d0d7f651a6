/**
 * Addresses on the Hugging Face Hub (or any server with the same URL layout), and the model
 * choices the app offers. Pure functions: shared by the main thread (picker, storage manager) and
 * the worker (downloads), unit-tested in hub.test.ts.
 *
 * A file of a repository lives at `{host}/{repo}/resolve/{revision}/{file}`, e.g.
 * `https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/main/onnx/vision_model.onnx`.
 */
import type { ModelVariant } from '../protocol';
import { CLASSIC_VARIANTS, isVariant } from './folder';

/** The Hub that real visitors use when the build sets nothing else (`VITE_HUB_HOST`). */
export const PUBLIC_HUB_HOST = 'https://huggingface.co';

/** Git revision used when none is given: the Hub's default branch. */
export const DEFAULT_REVISION = 'main';

/** One repository at one revision on one Hub-like host. */
export interface HubRef {
  /** Origin (and optional path prefix) without a trailing slash, e.g. `https://huggingface.co`. */
  host: string;
  /** `owner/name`, e.g. `Xenova/clip-vit-base-patch32`. */
  repo: string;
  /** Branch, tag or commit, e.g. `main`. */
  revision: string;
}

/** What a person picked in the model picker; turned into a worker `ModelSource` by the pipeline. */
export type ModelChoice =
  /** The small model shipped with the app (same origin). */
  | { kind: 'bundled'; variant: ModelVariant }
  /** A repository on the Hub (the host comes from the page, not from the choice). */
  | { kind: 'hub'; repo: string; revision: string; variant: ModelVariant }
  /** A folder from the user's disk; its files are kept by the pipeline, not here. */
  | { kind: 'folder'; name: string; variant: ModelVariant };

/** Same model and weights? (Folders compare by name only: the files are not part of a choice.) */
export function sameChoice(a: ModelChoice | null, b: ModelChoice | null): boolean {
  if (!a || !b || a.kind !== b.kind || a.variant !== b.variant) return false;
  if (a.kind === 'hub' && b.kind === 'hub') return a.repo === b.repo && a.revision === b.revision;
  if (a.kind === 'folder' && b.kind === 'folder') return a.name === b.name;
  return true;
}

/** A short name for messages and the status line. */
export function choiceLabel(c: ModelChoice): string {
  if (c.kind === 'bundled') return 'the small bundled model';
  if (c.kind === 'folder') return `the folder “${c.name}”`;
  return c.revision === DEFAULT_REVISION ? c.repo : `${c.repo}@${c.revision}`;
}

/** Encodes each path segment, keeping the slashes (`onnx/vision_model.onnx` stays readable). */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** `{host}/{repo}/resolve/{revision}/`: the folder URL that every file of the repo resolves against. */
export function hubBaseUrl(ref: HubRef): string {
  return `${trimSlashes(ref.host)}/${encodePath(ref.repo)}/resolve/${encodeURIComponent(ref.revision)}/`;
}

/** `{host}/{repo}/resolve/{revision}/{file}`, e.g. `…/resolve/main/onnx/vision_model_fp16.onnx`. */
export function hubFileUrl(ref: HubRef, file: string): string {
  return hubBaseUrl(ref) + encodePath(file.replace(/^\/+/, ''));
}

/** Inverse of {@link hubFileUrl}; null for a URL that is not a Hub file URL. */
export function parseHubFileUrl(url: string): (HubRef & { file: string }) | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  // owner/name/resolve/revision/file… — the host may carry a path prefix before it.
  const m = /^(.*?)\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(u.pathname);
  if (!m || m[2] === undefined || m[3] === undefined || m[4] === undefined) return null;
  const decode = (s: string) => s.split('/').map(decodeURIComponent).join('/');
  return { host: u.origin + (m[1] ?? ''), repo: decode(m[2]), revision: decodeURIComponent(m[3]), file: decode(m[4]) };
}

function trimSlashes(s: string): string {
  return s.replace(/\/+$/, '');
}

/** `owner/name`: letters, digits, `-`, `_`, `.`, each part at most 96 characters (the Hub's rule). */
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/**
 * Reads what a person typed as a model: `owner/name`, `owner/name@revision`, or a Hub page or
 * file address (`https://huggingface.co/owner/name`, `…/tree/v1`, `…/resolve/main/config.json`).
 * Returns the repo and revision, or an error message that says what a repo id looks like.
 */
export function parseRepoInput(input: string): { repo: string; revision: string } | { error: string } {
  let text = input.trim();
  if (text === '') return { error: 'Type a Hugging Face repo id such as Xenova/clip-vit-base-patch32.' };
  let revision = DEFAULT_REVISION;
  if (/^https?:\/\//i.test(text)) {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      return { error: `“${text}” is not a valid address.` };
    }
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'models') parts.shift(); // huggingface.co/models/… is an old alias
    const [owner, name, kind, rev] = parts;
    if (!owner || !name) return { error: `“${text}” does not name a repository: expected …/owner/name.` };
    if ((kind === 'tree' || kind === 'resolve' || kind === 'blob') && rev) revision = rev;
    text = `${owner}/${name}`;
  } else {
    const at = text.lastIndexOf('@');
    if (at > 0) {
      revision = text.slice(at + 1);
      text = text.slice(0, at);
      if (revision === '') return { error: 'Nothing follows “@”: type a branch, tag or commit, or leave “@” out.' };
    }
  }
  const parts = text.split('/');
  if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p))) {
    return { error: `“${text}” is not a repo id: expected owner/name, e.g. Xenova/clip-vit-base-patch32 (letters, digits, “-”, “_”, “.”).` };
  }
  return { repo: text, revision };
}

/**
 * The Hub host to use: an `http(s)` address given in the page URL (`?hub=http://127.0.0.1:8080`,
 * for a mirror or for tests), else the build-time default. Returns the host without trailing slash.
 */
export function resolveHubHost(param: string | null, buildDefault: string | undefined): string {
  for (const candidate of [param, buildDefault]) {
    if (!candidate) continue;
    try {
      const u = new URL(candidate);
      if (u.protocol === 'http:' || u.protocol === 'https:') return trimSlashes(u.origin + u.pathname);
    } catch {
      // not an address: try the next candidate
    }
  }
  return PUBLIC_HUB_HOST;
}

/**
 * A remembered choice (JSON from localStorage) if it is still well formed, else null. Folders are
 * never remembered: the browser does not keep access to them.
 */
export function parseStoredChoice(json: string | null): ModelChoice | null {
  let raw: unknown;
  try {
    raw = JSON.parse(json ?? 'null');
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (!isVariant(r['variant'])) return null;
  if (r['kind'] === 'bundled') return { kind: 'bundled', variant: r['variant'] };
  if (r['kind'] === 'hub' && typeof r['repo'] === 'string') {
    const parsed = parseRepoInput(r['repo']);
    if ('error' in parsed) return null;
    return { kind: 'hub', repo: parsed.repo, revision: typeof r['revision'] === 'string' ? r['revision'] : DEFAULT_REVISION, variant: r['variant'] };
  }
  return null;
}

/**
 * A choice given in the page address: `?model=bundled` or `?model=owner/name[@revision]`, with
 * `&variant=fp16|q8|…` (fp32 otherwise: see {@link addressVariant} for whether one was given; the
 * bundled model has fp32, fp16 and q8 only). Null when the address names no model; an error
 * message for a malformed repo id.
 */
export function choiceFromAddress(search: string): ModelChoice | { error: string } | null {
  const params = new URLSearchParams(search);
  const model = params.get('model');
  if (!model) return null;
  const v = params.get('variant');
  const variant: ModelVariant = isVariant(v) ? v : 'fp32';
  if (model === 'bundled') return { kind: 'bundled', variant: CLASSIC_VARIANTS.includes(variant) ? variant : 'fp32' };
  const parsed = parseRepoInput(model);
  if ('error' in parsed) return parsed;
  return { kind: 'hub', repo: parsed.repo, revision: parsed.revision, variant };
}

/** The `&variant=` of an address when it names a known variant, else null (the default applies). */
export function addressVariant(search: string): ModelVariant | null {
  const v = new URLSearchParams(search).get('variant');
  return isVariant(v) ? v : null;
}
