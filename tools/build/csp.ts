/**
 * The site's Content-Security-Policy, in one place: vite.config.ts puts it in the built
 * index.html as a `<meta http-equiv>` and sends it as a header from `vite preview`;
 * docs/hosting.md explains each directive. Pure, unit-tested in csp.test.ts.
 */

/**
 * Where the public Hugging Face Hub's files come from: the Hub itself (configs, the tree API,
 * small files) and the hosts its `resolve/` URLs redirect large files to (LFS on
 * `cdn-lfs*.huggingface.co`, Xet storage on `cas-bridge.xethub.hf.co`, other `*.hf.co`
 * CDNs). CSP checks every redirect target, so each must be listed.
 */
export const PUBLIC_HUB_SOURCES = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co'] as const;

/**
 * A Hub mirror on this machine (`?hub=http://127.0.0.1:8080`, the browser tests' Hub stand-in
 * on a random port). A page can only reach the visitor's own machine through these, and only
 * with that server's CORS consent.
 */
export const LOOPBACK_SOURCES = ['http://127.0.0.1:*', 'http://localhost:*', 'http://[::1]:*'] as const;

export interface CspOptions {
  /** The build's default Hub (`VITE_HUB_HOST`), when it names one: its origin may be fetched. */
  hubHost?: string | undefined;
  /** More `connect-src` sources, space-separated (`CSP_CONNECT_SRC`), e.g. another mirror. */
  extraConnect?: string | undefined;
  /**
   * Where the policy is delivered. `frame-ancestors` only works in a header (a `<meta>` policy
   * ignores it, with a console warning), so only the header carries it.
   */
  delivery: 'header' | 'meta';
}

/** The origin of an http(s) address, or null (not an address, or another scheme). */
function httpOrigin(address: string): string | null {
  try {
    const u = new URL(address);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * A CSP source expression is one token without `;` or `,` (either would end the directive or
 * the policy): refuse anything else, so a typo in an environment variable cannot open or
 * break the policy.
 */
function checkedSource(token: string): string {
  if (/[;,'"\s]/.test(token) || token === '*') {
    throw new Error(`CSP_CONNECT_SRC: “${token}” is not a single host source; list hosts such as https://mirror.example.org, separated by spaces.`);
  }
  return token;
}

/** The directives, in order; each value is a list of source expressions. */
export function cspDirectives(opts: CspOptions): Array<[string, string[]]> {
  const hub = opts.hubHost ? httpOrigin(opts.hubHost) : null;
  const extra = (opts.extraConnect ?? '').split(/\s+/).filter(Boolean).map(checkedSource);
  const connect = [...new Set(["'self'", 'blob:', ...PUBLIC_HUB_SOURCES, ...LOOPBACK_SOURCES, ...(hub ? [hub] : []), ...extra])];
  const directives: Array<[string, string[]]> = [
    ['default-src', ["'self'"]],
    // The app's own modules; WebAssembly compilation (ONNX Runtime, tfjs) needs wasm-unsafe-eval,
    // which allows WebAssembly.compile/instantiate but not eval or new Function. blob: for
    // tfjs's multi-threaded WASM (`?gradthreads=N`): its threads import their glue from a Blob
    // URL the backend makes (only the page's own code can make one).
    ['script-src', ["'self'", "'wasm-unsafe-eval'", 'blob:']],
    // The model worker and ONNX Runtime's threads are same-origin scripts; tfjs's WASM threads
    // are Blob workers.
    ['worker-src', ["'self'", 'blob:']],
    // Model files from the Hub; blob: for reading back images the page holds as object URLs.
    ['connect-src', connect],
    // Images are object URLs of dropped files; data: for canvas-made pictures.
    ['img-src', ["'self'", 'blob:', 'data:']],
    ['style-src', ["'self'"]],
    ['object-src', ["'none'"]],
    ['base-uri', ["'self'"]],
    ['form-action', ["'self'"]],
  ];
  if (opts.delivery === 'header') directives.push(['frame-ancestors', ["'none'"]]);
  return directives;
}

/** The policy as a header or `content` value: `default-src 'self'; script-src …`. */
export function contentSecurityPolicy(opts: CspOptions): string {
  return cspDirectives(opts).map(([name, sources]) => `${name} ${sources.join(' ')}`).join('; ');
}
