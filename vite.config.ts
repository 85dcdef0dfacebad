// Vite: builds the library (ESM bundle, `npm run build`) and serves the demo
// pages and the GPU test harness (`npm run demo`).
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: '.',
  server: { host: '127.0.0.1', port: 5173, open: false },
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
