export {};
declare global {
  interface Window {
    clipLensDebug: {
      runCounters: () => Promise<{ imageRuns: number; textRuns: number; queryRuns: number; blockRuns: number }>;
      /** The focused map's patch values (row-major), or null while none is painted. */
      focusMap: () => number[] | null;
      /** Ends the model worker abruptly, as a crash would, without telling the page. */
      killWorker: () => void;
      /** Vision attention the page keeps, bytes: per analysed image and in total. */
      attentionBytes: () => { perImage: number[]; total: number };
      /** Takes tfjs's GPU (WebGPU device or WebGL context) away in the worker; null when tfjs is on neither. */
      loseTfGpu: () => Promise<'webgpu' | 'webgl' | null>;
      setView: (patch: Record<string, unknown>) => void;
    };
  }
}
