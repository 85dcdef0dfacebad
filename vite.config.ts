// Vite: builds the library (ESM bundle, `npm run build`) and serves the demo
// pages and the GPU test harness (`npm run demo`).
import { resolve } from 'node:path';
import { type Plugin, defineConfig } from 'vite';

/**
 * Serves the demo (demo/index.html) at `/`, the address `npm run demo` prints;
 * every other page (the GPU test harness, the benchmark page) keeps its path.
 */
function demoAtRoot(): Plugin {
  return {
    name: 'webode-demo-at-root',
    configureServer(server) {
      server.middlewares.use((req, _res, next) => {
        if (req.url === '/' || req.url?.startsWith('/?')) req.url = `/demo/index.html${req.url.slice(1)}`;
        next();
      });
    },
  };
}

export default defineConfig({
  root: '.',
  plugins: [demoAtRoot()],
  // `import … from 'webode'` in the demo's README example resolves to the sources.
  resolve: { alias: [{ find: /^webode$/, replacement: resolve(import.meta.dirname, 'src/index.ts') }] },
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
