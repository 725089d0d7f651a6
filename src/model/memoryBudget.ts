/**
 * Is a model too big for this device? Checked before a download, so that a 50 GB file (or a
 * ViT-L/14 fp32 on a phone) is never fetched silently: the picker offers a variant that fits, or
 * to go on anyway. Pure (unit-tested in memoryBudget.test.ts); the page reads
 * `navigator.deviceMemory` and passes it in.
 */
import type { ModelVariant } from '../protocol';
import type { RepoVariant } from './variants';

/**
 * Device memory assumed where the browser does not say (`navigator.deviceMemory` is Chromium's
 * only, rounded and capped at 8): a modest laptop or phone.
 */
export const DEFAULT_DEVICE_MEMORY_GB = 4;

/**
 * The share of device memory a model's files may take. Loading holds about three copies of the
 * weights at its peak (the downloaded bytes, the patched graph, ONNX Runtime's session), and the
 * page, the browser and other tabs need the rest: a quarter leaves room for that. ViT-B/32 fp32
 * (606 MB) fits a 4 GB device; ViT-L/14 fp32 (1.7 GB) needs 8 GB.
 */
export const MODEL_MEMORY_SHARE = 0.25;

/** Bytes a model's files may take on a device with `deviceMemoryGB` (absent: {@link DEFAULT_DEVICE_MEMORY_GB}). */
export function modelBudgetBytes(deviceMemoryGB: number | null | undefined): number {
  const gb = typeof deviceMemoryGB === 'number' && Number.isFinite(deviceMemoryGB) && deviceMemoryGB > 0 ? deviceMemoryGB : DEFAULT_DEVICE_MEMORY_GB;
  return gb * 1e9 * MODEL_MEMORY_SHARE;
}

/** A variant too big for the budget, and the one to offer instead (null when none fits). */
export interface TooBig {
  bytes: number;
  budget: number;
  smaller: RepoVariant | null;
}

/**
 * Null when `chosen` fits `budget` bytes or its size is unknown (then only the download can
 * tell); else its size and the variant to offer instead: the first of `preference` (the backend's
 * order, see ./variants.ts) whose known size fits, or none.
 */
export function tooBig(variants: readonly RepoVariant[], chosen: ModelVariant, budget: number, preference: readonly ModelVariant[]): TooBig | null {
  const size = variants.find((v) => v.variant === chosen)?.bytes ?? null;
  if (size === null || size <= budget) return null;
  const fitting = variants.filter((v) => v.bytes !== null && v.bytes <= budget);
  const rank = (v: ModelVariant) => {
    const i = preference.indexOf(v);
    return i < 0 ? preference.length : i;
  };
  const smaller = [...fitting].sort((a, b) => rank(a.variant) - rank(b.variant))[0] ?? null;
  return { bytes: size, budget, smaller };
}
