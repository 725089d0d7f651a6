/**
 * A small hook for the browser tests, the benchmark and the curious (`clipLensDebug` in the
 * console): how often the encoders actually ran, and a way to set view options without the
 * controls (bench/ uses it to show or hide the layers × heads grid).
 */
import { useLens, type ViewOptions } from '../state/store';
import { runCounters } from './pipeline';

declare global {
  interface Window {
    clipLensDebug: { runCounters: typeof runCounters; setView: (patch: Partial<ViewOptions>) => void };
  }
}

window.clipLensDebug = { runCounters, setView: (patch) => useLens.getState().setView(patch) };
