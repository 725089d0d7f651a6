/**
 * The layout of a model folder (Hugging Face / transformers.js CLIP exports) and the mapping of
 * files a person picked or dropped onto that layout. Pure; shared by the worker and the page.
 *
 * ```
 * config.json  preprocessor_config.json  tokenizer.json  tokenizer_config.json
 * onnx/vision_model{,_fp16,_quantized,_int8,_uint8,_q4,_q4f16,_bnb4}.onnx   onnx/text_model{…same}.onnx
 * ```
 */
import { VARIANT_SUFFIX, type ModelVariant } from '../protocol';

/** The JSON files every model folder needs, in the order the worker reads them. */
export const MODEL_JSON_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

/** Every variant, in the order the picker lists them. */
export const VARIANTS: readonly ModelVariant[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'];

/** The variants of the original transformers.js exports (and of the bundled model). */
export const CLASSIC_VARIANTS: readonly ModelVariant[] = ['fp32', 'fp16', 'q8'];

/** Is `v` one of {@link VARIANTS}? (For values read from addresses and storage.) */
export function isVariant(v: unknown): v is ModelVariant {
  return typeof v === 'string' && (VARIANTS as readonly string[]).includes(v);
}

/** `onnx/vision_model_fp16.onnx` and friends. */
export function encoderFile(encoder: 'vision' | 'text', variant: ModelVariant): string {
  return `onnx/${encoder}_model${VARIANT_SUFFIX[variant]}.onnx`;
}

/** Every file that loading `variant` reads. */
export function filesOfVariant(variant: ModelVariant): string[] {
  return [...MODEL_JSON_FILES, encoderFile('vision', variant), encoderFile('text', variant)];
}

/** Variants whose files are all in `paths` (paths relative to the model folder). */
export function completeVariants(paths: Iterable<string>): ModelVariant[] {
  const have = new Set(paths);
  return VARIANTS.filter((v) => filesOfVariant(v).every((f) => have.has(f)));
}

/** A picked or dropped file with its path below what the person chose (`clip/onnx/x.onnx`). */
export interface PickedFile {
  path: string;
  blob: Blob;
}

/** A model folder assembled from picked files. */
export interface ModelFolder {
  /** The folder's own name, for the status line (`clip-vit-base-patch32`). */
  name: string;
  /** Files keyed by path inside the model folder (`onnx/vision_model.onnx`). */
  files: Record<string, Blob>;
  /** Variants with every file present. */
  variants: ModelVariant[];
  /** What is missing for the folder to be loadable at all; empty when `variants` is not. */
  missing: string[];
}

const ONNX_NAME = /^(vision|text)_model(_fp16|_quantized|_int8|_uint8|_q4|_q4f16|_bnb4)?\.onnx$/;

/**
 * Maps picked files onto the model folder layout.
 *
 * The folder root is the directory that holds `config.json` (so picking a parent folder, or a
 * folder whose files sit one level down, both work); files outside it are ignored. Encoder files
 * found next to `config.json` instead of in `onnx/` are accepted too, so selecting the files
 * themselves (no folder structure) also works.
 */
export function modelFolderFiles(picked: readonly PickedFile[]): ModelFolder {
  const norm = picked.map((p) => ({ path: p.path.replace(/\\/g, '/').replace(/^\.?\/+/, ''), blob: p.blob }));
  const configs = norm.filter((p) => p.path === 'config.json' || p.path.endsWith('/config.json'))
    .sort((a, b) => a.path.length - b.path.length);
  const rootPath = configs[0] ? configs[0].path.slice(0, -'config.json'.length) : commonFolder(norm.map((p) => p.path));
  const files: Record<string, Blob> = {};
  for (const p of norm) {
    if (!p.path.startsWith(rootPath)) continue;
    let rel = p.path.slice(rootPath.length);
    if (ONNX_NAME.test(rel)) rel = `onnx/${rel}`;
    files[rel] ??= p.blob;
  }
  const paths = Object.keys(files);
  const variants = completeVariants(paths);
  const missing: string[] = [];
  if (variants.length === 0) {
    for (const f of MODEL_JSON_FILES) if (!files[f]) missing.push(f);
    if (!VARIANTS.some((v) => files[encoderFile('vision', v)] && files[encoderFile('text', v)])) {
      missing.push('onnx/vision_model.onnx and onnx/text_model.onnx (or their _fp16, _quantized, _int8, _uint8, _q4, _q4f16 or _bnb4 versions)');
    }
  }
  const segments = rootPath.split('/').filter(Boolean);
  return { name: segments[segments.length - 1] ?? 'local folder', files, variants, missing };
}

/** The first path segment when every path shares it (`model/…`), else ''. */
function commonFolder(paths: string[]): string {
  const first = paths[0]?.split('/')[0];
  if (!first || !paths.every((p) => p.startsWith(`${first}/`))) return '';
  return `${first}/`;
}
