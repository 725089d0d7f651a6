import { createReadStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, loadEnv, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { contentSecurityPolicy, type CspOptions } from './tools/build/csp.ts';

/**
 * Cross-origin isolation (COOP + COEP) lets ONNX Runtime use multi-threaded WASM
 * (SharedArrayBuffer). Without these headers the app still works, single-threaded.
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** ONNX Runtime's WASM build (the one `onnxruntime-web/webgpu` loads), served from our origin. */
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
const ortDist = fileURLToPath(new URL('./node_modules/onnxruntime-web/dist/', import.meta.url));

function ortWasm(): Plugin {
  return {
    name: 'clip-lens-ort-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = req.url?.replace(/^.*\/ort\//, '').split('?')[0];
        if (!req.url?.includes('/ort/') || !name || !ORT_FILES.includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        createReadStream(ortDist + name).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_FILES) {
        this.emitFile({ type: 'asset', fileName: `ort/${name}`, source: readFileSync(ortDist + name) });
      }
    },
  };
}

/**
 * The Content-Security-Policy (tools/build/csp.ts, docs/hosting.md) in the built index.html, so
 * that it holds on any static host. The dev server has none: its hot reload runs inline scripts
 * and injects styles.
 */
function cspMeta(options: Omit<CspOptions, 'delivery'>): Plugin {
  return {
    name: 'clip-lens-csp',
    apply: 'build',
    // Right after <meta charset>, before anything the policy governs; the policy has no `"`.
    transformIndexHtml: (html) => {
      const meta = `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy({ ...options, delivery: 'meta' })}" />`;
      const charset = /<meta charset="[^"]*" \/>/i;
      if (!charset.test(html)) throw new Error('index.html needs a <meta charset> for the Content-Security-Policy to follow');
      return html.replace(charset, (m) => `${m}\n    ${meta}`);
    },
  };
}

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), ['VITE_HUB_HOST', 'CSP_']);
  const csp = { hubHost: env['VITE_HUB_HOST'], extraConnect: env['CSP_CONNECT_SRC'] };
  return {
    base: './',
    plugins: [react(), ortWasm(), cspMeta(csp)],
    // Use ORT's build without the WASM inlined: the .wasm is served once, from /ort/.
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
    worker: { format: 'es' },
    server: { headers: isolation },
    // The preview serves the build as a host should: isolated, and with the policy as a header,
    // which also covers the workers (a <meta> policy applies to the page only).
    preview: { headers: { ...isolation, 'Content-Security-Policy': contentSecurityPolicy({ ...csp, delivery: 'header' }) } },
    build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
  };
});
