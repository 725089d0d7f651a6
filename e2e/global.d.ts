export {};
declare global {
  interface Window {
    clipLensDebug: {
      runCounters: () => Promise<{ imageRuns: number; textRuns: number; queryRuns: number; blockRuns: number }>;
      /** The focused map's patch values (row-major), or null while none is painted. */
      focusMap: () => number[] | null;
    };
  }
}
