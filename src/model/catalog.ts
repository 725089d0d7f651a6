/**
 * The pretrained CLIP models offered in the picker: the transformers.js (Xenova) exports of
 * OpenAI's checkpoints on the Hugging Face Hub, with the approximate download size of each
 * weights variant (vision + text `.onnx`). Sizes are the published file sizes, rounded, and are
 * shown with “≈”: they are labels for a person deciding what to download, never used to verify.
 */
import type { ModelVariant } from '../protocol';
import type { RepoVariant } from './variants';

/** Approximate sizes in bytes of the two encoder files of one variant. */
export interface VariantSize {
  vision: number;
  text: number;
}

/** One model in the picker. */
export interface CatalogModel {
  /** Hub repo id. */
  repo: string;
  /** What the picker shows, e.g. `OpenAI CLIP ViT-B/32`. */
  label: string;
  /** Patch grid at 224 px, for the picker's hint (7×7 for /32, 14×14 for /16, 16×16 for /14). */
  grid: number;
  /** The variants of the original exports (repos may have gained more: the Hub's listing says). */
  sizes: Partial<Record<ModelVariant, VariantSize>>;
}

const MB = 1e6;

/** OpenAI CLIP on the Hub, smallest first. */
export const HUB_MODELS: readonly CatalogModel[] = [
  {
    repo: 'Xenova/clip-vit-base-patch32',
    label: 'OpenAI CLIP ViT-B/32',
    grid: 7,
    sizes: {
      fp32: { vision: 352 * MB, text: 254 * MB },
      fp16: { vision: 176 * MB, text: 127 * MB },
      q8: { vision: 89 * MB, text: 65 * MB },
    },
  },
  {
    repo: 'Xenova/clip-vit-base-patch16',
    label: 'OpenAI CLIP ViT-B/16',
    grid: 14,
    sizes: {
      fp32: { vision: 345 * MB, text: 254 * MB },
      fp16: { vision: 173 * MB, text: 127 * MB },
      q8: { vision: 88 * MB, text: 65 * MB },
    },
  },
  {
    repo: 'Xenova/clip-vit-large-patch14',
    label: 'OpenAI CLIP ViT-L/14',
    grid: 16,
    sizes: {
      fp32: { vision: 1213 * MB, text: 494 * MB },
      fp16: { vision: 607 * MB, text: 247 * MB },
      q8: { vision: 307 * MB, text: 125 * MB },
    },
  },
];

/** The model a visitor gets when the Hub is reachable and they have not chosen another. */
export const DEFAULT_HUB_REPO = 'Xenova/clip-vit-base-patch32';

/** The catalog entry of a repo id, if it is one of ours. */
export function catalogModel(repo: string): CatalogModel | undefined {
  return HUB_MODELS.find((m) => m.repo === repo);
}

/** A catalog repo's variants with their approximate sizes, for when the Hub cannot be asked. */
export function catalogVariants(repo: string): RepoVariant[] | null {
  const m = catalogModel(repo);
  if (!m) return null;
  return Object.entries(m.sizes).map(([variant, s]) => ({ variant: variant as ModelVariant, bytes: s.vision + s.text, approximate: true }));
}

/** `352 MB`, `1.7 GB`, `640 kB`: decimal units, as download sizes are usually given. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} B`;
}

/** A size label for something whose size is only known approximately: `≈ 606 MB`. */
export function formatApproxBytes(n: number): string {
  return `≈ ${formatBytes(n)}`;
}
