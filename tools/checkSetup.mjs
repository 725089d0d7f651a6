/**
 * The first step of `npm test`: checks, in a few seconds, that this machine has what the tests
 * need, and stops with the commands to run when it does not — rather than failing minutes later
 * inside a browser test. `.ci/run` installs all of it on a fresh Debian machine.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Debian's Python, which the model tooling runs (its packages are Debian's, not pip's). */
const PYTHON = '/usr/bin/python3';

/** Debian packages for the Python model tooling (lookalikes, variants) the browser tests use. */
const PYTHON_PACKAGES = { torch: 'python3-torch', onnx: 'python3-onnx', numpy: 'python3-numpy' };

/**
 * What is missing, from what a probe saw: `{ nodeModules, chromium, python, modules }` where
 * `modules` lists the Python modules that failed to import. Returns one line per missing thing
 * and the commands that fix all of them; empty when nothing is missing.
 */
export function setupAdvice({ nodeModules, chromium, chromiumPath, python, modules }) {
  const problems = [];
  const apt = [];
  if (!nodeModules) problems.push('the npm packages are not installed');
  if (!chromium) {
    problems.push(`no Chromium at ${chromiumPath} (set CHROMIUM_PATH to use another)`);
    apt.push('chromium');
  }
  if (!python) {
    problems.push(`no ${PYTHON}`);
    apt.push('python3', ...Object.values(PYTHON_PACKAGES));
  } else if (modules.length) {
    problems.push(`${PYTHON} cannot import ${modules.join(', ')}`);
    apt.push(...modules.map((m) => PYTHON_PACKAGES[m]));
  }
  if (!problems.length) return [];
  const commands = [];
  if (apt.length) commands.push(`sudo apt-get install -y ${apt.join(' ')}`);
  if (!nodeModules) commands.push('PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci');
  commands.push('npm test');
  return [
    'The tests cannot run on this machine yet:',
    ...problems.map((p) => `  - ${p}`),
    'Run:',
    ...commands.map((c) => `  ${c}`),
    'or `bash .ci/run`, which installs all of it on Debian and runs the tests.',
  ];
}

function canRun(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Probes this machine (a few seconds: the Python imports are the slow part). */
export function probe(env = process.env, root = fileURLToPath(new URL('..', import.meta.url))) {
  const chromiumPath = env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  const python = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' }).status === 0;
  const modules = python
    ? Object.keys(PYTHON_PACKAGES).filter((m) => spawnSync(PYTHON, ['-c', `import ${m}`], { encoding: 'utf8' }).status !== 0)
    : [];
  return { nodeModules: canRun(`${root}node_modules/.bin/tsc`), chromium: canRun(chromiumPath), chromiumPath, python, modules };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const advice = setupAdvice(probe());
  if (advice.length) {
    console.error(advice.join('\n'));
    process.exit(1);
  }
}
