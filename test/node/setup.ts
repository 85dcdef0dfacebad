/**
 * The Node project's setup: Dawn (the `webgpu` npm package) as the WebGPU
 * implementation, its globals (GPUBufferUsage, GPUMapMode, …) installed as a
 * browser has them. Without a Vulkan ICD of its own choosing Dawn uses the
 * SwiftShader ICD that Debian's Chromium ships, the adapter the browser tests
 * use too. `dawnGpu()` is the GPU object to hand to `createRuntime({ gpu })`.
 */
import { existsSync } from 'node:fs';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

const dawn = await import('webgpu');
Object.assign(globalThis, dawn.globals);

let gpu: GPU | null = null;
/** Dawn's GPU object (one per test process). */
export function dawnGpu(): GPU {
  gpu ??= dawn.create([]) as unknown as GPU;
  return gpu;
}
