import { defineConfig } from '@playwright/test';

/**
 * Browser tests drive the built app (vite preview, cross-origin isolated) in Debian's Chromium,
 * once on WASM and once on WebGPU (SwiftShader in headless Chromium: slow, but real).
 */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  // Tests never reach the network: every host but the local ones (the app, the Hub stand-in)
  // fails to resolve.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/**
 * Every test starts as a visitor who chose the bundled model, so no test depends on (or probes)
 * the Hugging Face Hub. e2e/hub.spec.ts starts from other states explicitly.
 */
const BUNDLED_CHOICE = { name: 'clip-lens.model', value: JSON.stringify({ kind: 'bundled', variant: 'fp32' }) };

/**
 * Where the built app is served: `vite preview` of `dist/` on port 4173, unless E2E_PORT and
 * E2E_OUT say otherwise (two checkouts' or two people's runs on one machine, each with its own
 * `vite build --outDir`, never serve each other's build). Results go to E2E_RESULTS.
 */
const PORT = Number(process.env['E2E_PORT'] ?? 4173);
const OUT_DIR = process.env['E2E_OUT'] ?? 'dist';
const ORIGIN = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env['E2E_RESULTS'] ?? 'test-results',
  timeout: 120_000,
  expect: { timeout: 60_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `${ORIGIN}/`,
    trace: 'off',
    storageState: { cookies: [], origins: [{ origin: ORIGIN, localStorage: [BUNDLED_CHOICE] }] },
  },
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort --outDir ${OUT_DIR}`,
    url: `${ORIGIN}/`,
    reuseExistingServer: !process.env['CI'],
    timeout: 60_000,
  },
  projects: [
    {
      name: 'wasm',
      metadata: { backend: 'wasm' },
      // A lost tfjs GPU needs a GPU: WebGPU project only.
      testIgnore: /gpuLoss\.spec\.ts/,
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: [...chromiumArgs, '--disable-gpu'] },
      },
    },
    {
      name: 'webgpu',
      metadata: { backend: 'webgpu' },
      // On SwiftShader the bundled model's 145-token encoder is 2–3× slower than on WASM:
      // its app tests took 44–60 s in CI, against the 120 s default.
      timeout: 240_000,
      // Downloading, caching and the tfjs explanations do not depend on ORT's backend: those
      // specs run on the WASM project only (full-size ViT-B/32 on SwiftShader would also take minutes);
      // so do the address and the stored session (session.spec.ts), export (export.spec.ts), the
      // Content-Security-Policy (csp.spec.ts; every test still checks for violations), the
      // fuzzed images (fuzz.spec.ts: decoding is the browser's, in the worker, before ORT runs),
      // prompt floods, 200 images and the worker crash (prompts, manyImages, recovery).
      testIgnore: /(hub\w*|explain|session|export|csp|fuzz|prompts|manyImages|recovery)\.spec\.ts/,
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
          args: [...chromiumArgs, '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'],
        },
      },
    },
  ],
});
