/** The accumulate kernel (accumulate.wgsl): acc += x elementwise, n a uniform. */
import accumulateSource from './accumulate.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/** Invocations per workgroup. */
export const ACCUMULATE_WORKGROUP = 64;

export const ACCUMULATE_PARAMS = new StructLayout('AccumulateParams', [['n', 'u32']] as const);

export const accumulateKernel = defineKernel({
  name: 'accumulate',
  bindings: () => ({
    P: uniform(ACCUMULATE_PARAMS),
    x: storage('read'),
    acc: storage('read_write'),
  }),
  entryPoints: ['accumulate'],
  wgsl: (_spec: null, decls) => fillTemplate(accumulateSource, { BINDINGS: decls, WG: ACCUMULATE_WORKGROUP }),
});

/** Workgroups for n elements. */
export function accumulateWorkgroups(n: number): number {
  return Math.ceil(n / ACCUMULATE_WORKGROUP);
}
