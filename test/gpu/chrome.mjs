/**
 * How the GPU tests and the benchmarks find and start Chrome: `CHROME_PATH`,
 * else the system Chromium / Chrome. WebGPU runs on SwiftShader (a CPU
 * Vulkan) by default, so no GPU is needed; `WEBODE_ADAPTER=hardware` lets
 * Chrome pick a hardware adapter instead. Plain JavaScript (types in
 * chrome.d.mts) so the Node benchmark runners import the same file as the
 * tests.
 */
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function chromePath() {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROME_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chrome found (tried ${CANDIDATES.join(', ')}); set CHROME_PATH`);
  return found;
}

export function chromeArgs() {
  const args = [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
  ];
  if ((process.env.WEBODE_ADAPTER ?? 'swiftshader') === 'swiftshader') args.push('--use-webgpu-adapter=swiftshader');
  return args;
}
