export {};
declare global {
  interface Window {
    clipLensDebug: { runCounters: () => Promise<{ imageRuns: number; textRuns: number; queryRuns: number; blockRuns: number }> };
  }
}
