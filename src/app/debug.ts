/**
 * A small hook for the browser tests, the benchmark and the curious (`clipLensDebug` in the
 * console): how often the encoders actually ran, the bytes of attention kept per image, and a
 * way to set view options without the controls (bench/ uses it to show or hide the layers ×
 * heads grid), the numbers of the focused map, and a crash of the model worker.
 */
import { attentionBytesOf, imageResults } from '../state/results';
import { useLens, type ViewOptions } from '../state/store';
import { imageView } from './maps';
import { killWorker, runCounters, workerApi } from './pipeline';

/** Vision attention kept on the main thread, bytes: per analysed image and in total. */
export interface AttentionBytes {
  perImage: number[];
  total: number;
}

/** The map the focus view paints now (patch values, row-major), or null while there is none. */
function focusMap(): number[] | null {
  const { view, prompts } = useLens.getState();
  const id = view.focusImageId;
  const result = id ? imageResults.get(id) : undefined;
  const map = id && result ? imageView(id, result, view, prompts).map : null;
  return map ? Array.from(map.values) : null;
}

function attentionBytes(): AttentionBytes {
  const perImage = [...imageResults.keys()].map(attentionBytesOf);
  return { perImage, total: perImage.reduce((a, b) => a + b, 0) };
}

declare global {
  interface Window {
    clipLensDebug: {
      runCounters: typeof runCounters;
      attentionBytes: () => AttentionBytes;
      setView: (patch: Partial<ViewOptions>) => void;
      focusMap: () => number[] | null;
      /** Ends the model worker as a crash would: the page must notice by itself and recover. */
      killWorker: () => void;
      /** Takes tfjs's GPU (WebGPU device or WebGL context) away in the worker, as a GPU reset would; null when tfjs is on neither. */
      loseTfGpu: () => Promise<'webgpu' | 'webgl' | null>;
    };
  }
}

window.clipLensDebug = {
  runCounters, attentionBytes, focusMap, killWorker,
  loseTfGpu: () => workerApi().loseTfGpu(),
  setView: (patch) => useLens.getState().setView(patch),
};
