// Vite: builds the library (ESM bundle, `npm run build`) and serves the demo
// pages and the GPU test harness (`npm run demo`).
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  server: { host: '127.0.0.1', port: 5173, open: false },
  // Scan only the pages that ship (the demo and the test harness) for
  // dependencies, and pre-bundle uPlot at start-up so no page load waits for it.
  optimizeDeps: {
    entries: ['demo/**/*.html', 'test/gpu/*.html', 'bench/index.html'],
    include: ['uplot'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    lib: {
      entry: resolve(import.meta.dirname, 'src/index.ts'),
      formats: ['es'],
      fileName: () => 'webode.js',
    },
  },
});
