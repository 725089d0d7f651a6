import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SCRIPT = new URL('./checkSetup.mjs', import.meta.url).pathname;
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('npm test’s setup check', () => {
  it('stops with the command that installs a missing Chromium', () => {
    const result = run({ CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no Chromium at /nonexistent/chromium');
    expect(result.stderr).toMatch(/apt-get install -y chromium\b/);
    expect(result.stderr).toContain('bash .ci/run');
  });

  it('passes silently on a machine that has everything (this one runs the browser tests)', () => {
    const result = run({ CHROMIUM_PATH: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
