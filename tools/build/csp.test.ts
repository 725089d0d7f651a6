import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, cspDirectives } from './csp';

const directive = (policy: string, name: string): string[] | undefined =>
  policy.split('; ').map((d) => d.split(' ')).find(([n]) => n === name)?.slice(1);

describe('the Content-Security-Policy', () => {
  it('has the directives the site needs and nothing wider', () => {
    const policy = contentSecurityPolicy({ delivery: 'header' });
    expect(directive(policy, 'default-src')).toEqual(["'self'"]);
    expect(directive(policy, 'script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
    expect(directive(policy, 'worker-src')).toEqual(["'self'", 'blob:']);
    expect(directive(policy, 'img-src')).toEqual(["'self'", 'blob:', 'data:']);
    expect(directive(policy, 'object-src')).toEqual(["'none'"]);
    expect(directive(policy, 'frame-ancestors')).toEqual(["'none'"]);
    const connect = directive(policy, 'connect-src') ?? [];
    expect(connect).toContain("'self'");
    expect(connect).toContain('https://huggingface.co');
    expect(connect).toContain('https://*.hf.co');
    // Never unsafe-inline or unsafe-eval, and no bare wildcard anywhere.
    expect(policy).not.toMatch(/'unsafe-(inline|eval)'/);
    expect(policy.split(/[; ]+/)).not.toContain('*');
  });

  it('leaves frame-ancestors out of a meta policy, where browsers ignore it', () => {
    const meta = contentSecurityPolicy({ delivery: 'meta' });
    expect(directive(meta, 'frame-ancestors')).toBeUndefined();
    expect(meta).not.toContain('"');
  });

  it('adds the configured Hub by its origin and extra hosts one by one', () => {
    const policy = contentSecurityPolicy({ delivery: 'header', hubHost: 'https://mirror.example.org/hf/', extraConnect: ' https://a.example  https://b.example ' });
    const connect = directive(policy, 'connect-src') ?? [];
    expect(connect).toContain('https://mirror.example.org');
    expect(connect).toContain('https://a.example');
    expect(connect).toContain('https://b.example');
    expect(connect.filter((s) => s === "'self'")).toHaveLength(1);
  });

  it('ignores a Hub that is not an http(s) address and refuses an extra source that would break the policy', () => {
    const before = cspDirectives({ delivery: 'header' });
    expect(cspDirectives({ delivery: 'header', hubHost: 'javascript:alert(1)' })).toEqual(before);
    for (const bad of ['https://x.example; script-src *', "'unsafe-inline'", '*', 'a,b']) {
      expect(() => contentSecurityPolicy({ delivery: 'header', extraConnect: bad })).toThrow(/CSP_CONNECT_SRC/);
    }
  });
});
