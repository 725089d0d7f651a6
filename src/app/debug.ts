/**
 * A small read-only hook for the browser tests and the curious (`clipLensDebug` in the console):
 * how often the encoders actually ran.
 */
import { runCounters } from './pipeline';

declare global {
  interface Window {
    clipLensDebug: { runCounters: typeof runCounters };
  }
}

window.clipLensDebug = { runCounters };
