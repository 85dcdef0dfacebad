// Tests: `unit` runs pure logic in Node; `gpu` drives real WebGPU in headless
// Chromium through puppeteer (one browser and one Vite server for the run,
// started by test/gpu/global-setup.ts), one file at a time; `node` runs
// webode in Node on Dawn (the webgpu package), no browser.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/gpu/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
