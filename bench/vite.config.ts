import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

/**
 * Builds the two bench workers (bench/page/*.worker.ts) as plain ES modules; bench/server.ts serves
 * them beside ONNX Runtime's files. Same resolution as the app (vite.config.ts): ORT's build without
 * the WASM inlined, its .mjs/.wasm served from our origin.
 */
export const BENCH_PAGE_OUT = fileURLToPath(new URL('../node_modules/.cache/clip-lens-bench/page/', import.meta.url));
const page = (file: string) => fileURLToPath(new URL(`./page/${file}`, import.meta.url));

export default defineConfig({
  publicDir: false,
  // Asset URLs (tfjs's .wasm files) relative to the worker module, which is served under /bench/.
  base: './',
  logLevel: 'warn',
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: {
    target: 'es2022',
    outDir: BENCH_PAGE_OUT,
    emptyOutDir: true,
    chunkSizeWarningLimit: 5000,
    // Built as plain entries, not through `new Worker(new URL(…))`, so Vite would add its
    // <link rel=modulepreload> helper (which reads `document`) to dynamic imports: not in a worker.
    modulePreload: false,
    rollupOptions: {
      input: { ort: page('ort.worker.ts'), tjs: page('tjs.worker.ts') },
      output: { format: 'es', entryFileNames: '[name].js' },
    },
  },
});
