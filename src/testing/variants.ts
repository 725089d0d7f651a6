/**
 * The bundled model with all eight weight variants transformers.js publishes, for tests (Node):
 * `models-bench/clip-lens-shapes-variants/`, written by tools/models/variants.py from the
 * committed fp32 files. It is git-ignored and made on first use (about a second).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encoderFile, VARIANTS } from '../model/folder';
import { MODEL_DIR } from './golden';


const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}models-bench/clip-lens-shapes-variants/`;
const SCRIPT = `${ROOT}tools/models/variants.py`;
const PYTHON = '/usr/bin/python3';
const REQUIRED = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  ...(['vision', 'text'] as const).flatMap((e) => VARIANTS.map((v) => encoderFile(e, v))),
];

/** What tools/models/variants.py records in `variants.json`. */
interface Stamp {
  readonly sources: Readonly<Record<string, string>>;
  readonly converters: Readonly<Record<string, string>>;
}

let checked: string | undefined;

/**
 * The folder with every variant (path with a trailing slash), written first when a file is
 * missing or the folder was made from other fp32 weights or converters than the current ones.
 *
 * @throws Error saying which Debian packages to install when Python lacks onnx or numpy, or
 *   with the script's output when it fails otherwise.
 */
export function ensureBundledVariants(): string {
  if (checked) return checked;
  if (!upToDate()) {
    const run = spawnSync(PYTHON, [SCRIPT, MODEL_DIR, '--out', OUT], { encoding: 'utf8', timeout: 120_000 });
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    if (run.error || /No module named '?(onnx|numpy)/.test(output)) {
      throw new Error(
        `Cannot write the weight variants of the bundled model: ${run.error ? `${PYTHON} did not start (${run.error.message})` : 'Python lacks onnx or numpy'}. ` +
          'Install Debian\'s packages: apt-get install -y python3-onnx python3-numpy (then run the tests again).',
        { cause: run.error ?? output },
      );
    }
    if (run.status !== 0) throw new Error(`${PYTHON} ${SCRIPT} failed (exit ${run.status}):\n${output}`);
    if (!upToDate()) throw new Error(`${SCRIPT} ran but ${OUT} is still incomplete:\n${output}`);
  }
  checked = OUT;
  return OUT;
}

function upToDate(): boolean {
  if (!REQUIRED.every((f) => existsSync(OUT + f)) || !existsSync(`${OUT}variants.json`)) return false;
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(`${OUT}variants.json`, 'utf8')) as Stamp;
  } catch {
    return false;
  }
  const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
  const sources = Object.entries(stamp.sources ?? {});
  const converters = Object.entries(stamp.converters ?? {});
  return (
    sources.length === 2 &&
    sources.every(([rel, hash]) => existsSync(MODEL_DIR + rel) && sha(MODEL_DIR + rel) === hash) &&
    converters.length === 2 &&
    converters.every(([name, hash]) => existsSync(`${ROOT}tools/models/${name}`) && sha(`${ROOT}tools/models/${name}`) === hash)
  );
}
