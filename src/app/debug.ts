/**
 * A small hook for the browser tests, the benchmark and the curious (`clipLensDebug` in the
 * console): how often the encoders actually ran, the bytes of attention kept per image, and a
 * way to set view options without the controls (bench/ uses it to show or hide the layers ×
 * heads grid).
 */
import { attentionBytesOf, imageResults } from '../state/results';
import { useLens, type ViewOptions } from '../state/store';
import { runCounters } from './pipeline';

/** Vision attention kept on the main thread, bytes: per analysed image and in total. */
export interface AttentionBytes {
  perImage: number[];
  total: number;
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
    };
  }
}

window.clipLensDebug = { runCounters, attentionBytes, setView: (patch) => useLens.getState().setView(patch) };
