/**
 * Every generated WGSL module, checked in Node where it is generated: each
 * kernel definition in src/kernels/ is specialised for a set of specs (every
 * method × several MLP shapes, activations and time inputs; every loss, both
 * optimizers, Linear layers, the mini-batch sampler, the gate, the summary,
 * the seed, the reduction, the time gradient, both `MLP.forward` variants),
 * its module is parsed by wgsl_reflect, and
 *   (a) it parses, and no template marker `${…}` is left in it;
 *   (b) its group-0 bindings, by binding index, have the names, the address
 *       space (uniform or storage), the storage access and the types of the
 *       definition's bindings record, in the record's order, and no binding
 *       is declared outside group 0;
 *   (c) every entry point of the definition is a @compute function of the
 *       module, and the module has no other.
 * The last tests break modules on purpose and check that the checks fail.
 *
 * What wgsl_reflect does not catch: it is a parser with reflection, not a
 * validator. It accepts some malformed expressions (an assignment or a
 * binary operator with nothing after it, e.g. `x = 1u + ;`) and a stray
 * `${NAME}` line at module scope, and it resolves no identifiers or types.
 * The marker check covers the second; WebGPU's compiler (the GPU tests)
 * remains the judge of the rest.
 */
import { describe, expect, it, vi } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { TABLEAUX, type Tableau } from '../../src/methods/tableau';
import { ACTIVATIONS, type MlpSpec } from '../../src/mlp/mlp';
import { type KernelDef, kernelWgsl } from '../../src/wgsl/kernel';
import { integrateKernel } from '../../src/kernels/integrate';
import { integrateLanesKernel } from '../../src/kernels/integrate-lanes';
import { summaryKernel } from '../../src/kernels/summary';
import { mlpForwardKernel, mlpForwardSpec } from '../../src/kernels/mlp-forward';
import { adjointKernel } from '../../src/kernels/adjoint';
import { adjointLanesFit, adjointLanesKernel } from '../../src/kernels/adjoint-lanes';
import { adjointWorkgroupFits, adjointWorkgroupKernel } from '../../src/kernels/adjoint-workgroup';
import { backpropKernel } from '../../src/kernels/backprop';
import { reduceKernel } from '../../src/kernels/reduce';
import { timeGradientKernel } from '../../src/kernels/time-gradient';
import { linearKernel } from '../../src/kernels/linear';
import { MASKED_LOSS_KINDS, UNMASKED_LOSS_KINDS, lossKernel, maskedLossKernel } from '../../src/kernels/loss';
import { optimKernel } from '../../src/kernels/optim';
import { minibatchKernel } from '../../src/kernels/minibatch';
import { gateKernel } from '../../src/kernels/gate';
import { seedKernel } from '../../src/kernels/seed';
import { latentKernel } from '../../src/kernels/latent';
import { recurrentKernel, recurrentParamsKernel } from '../../src/kernels/recurrent';
import { cnfIntegrateKernel } from '../../src/kernels/cnf-integrate';
import { cnfDensityKernel } from '../../src/kernels/cnf-density';
import { cnfAdjointKernel } from '../../src/kernels/cnf-adjoint';
import { cnfCotangentKernel } from '../../src/kernels/cnf-cotangent';
import type { CnfFieldSpec } from '../../src/mlp/trace';
import { accumulateKernel } from '../../src/kernels/accumulate';

/** MLP shapes checked with every method: one and two hidden layers, with and without the time input. */
const MLPS: MlpSpec[] = [
  { layers: [2, 8, 2], activation: 'tanh', timeInput: false },
  { layers: [3, 16, 16, 2], activation: 'softplus', timeInput: true },
  { layers: [4, 64, 64, 4], activation: 'relu', timeInput: false },
];
/** Checked with one method: every activation, and a wide layer (the one-sample forward, no lanes). */
const MORE_MLPS: MlpSpec[] = [
  ...ACTIVATIONS.map((activation, i): MlpSpec => ({ layers: i % 2 ? [3, 8, 2] : [2, 8, 2], activation, timeInput: i % 2 === 1 })),
  { layers: [2, 512, 2], activation: 'silu', timeInput: false },
];
const METHODS: Tableau[] = Object.values(TABLEAUX);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKernel = KernelDef<any, string, string>;
interface Case {
  readonly label: string;
  readonly def: AnyKernel;
  readonly spec: unknown;
}

/** Every kernel definition with the specs it is checked for. */
function cases(): Case[] {
  const out: Case[] = [];
  const add = (def: AnyKernel, spec: unknown, label: string) => out.push({ def, spec, label: `${def.name} ${label}` });
  for (const mlp of [...MLPS, ...MORE_MLPS]) {
    const m = `[${mlp.layers.join(',')}] ${mlp.activation}${mlp.timeInput ? ' +t' : ''}`;
    add(mlpForwardKernel, mlpForwardSpec(mlp), `${m} lanes`);
    add(mlpForwardKernel, mlpForwardSpec(mlp, { lanes: 1, workgroupSize: 64 }), `${m} one sample`);
    add(timeGradientKernel, mlp, m);
    add(timeGradientKernel, { ...mlp, perSampleTimes: true }, `${m} per-sample times`);
    for (const tableau of MLPS.includes(mlp) ? METHODS : [TABLEAUX.dopri5]) {
      const spec = { mlp, tableau };
      const label = `${m} ${tableau.name}`;
      add(integrateKernel, spec, label);
      add(integrateKernel, { ...spec, perSampleTimes: true }, `${label} per-sample times`);
      add(integrateLanesKernel, { ...spec, workgroup: 4 }, `${label} (4 per workgroup)`);
      add(integrateLanesKernel, { ...spec, workgroup: 64 }, label);
      add(adjointKernel, spec, label);
      add(adjointKernel, { ...spec, perSampleTimes: true }, `${label} per-sample times`);
      if (adjointLanesFit(mlp)) add(adjointLanesKernel, { ...spec, workgroup: 4 }, `${label} (4 per workgroup)`);
      if (adjointLanesFit(mlp)) add(adjointLanesKernel, { ...spec, perSampleTimes: true, workgroup: 64 }, `${label} per-sample times`);
      if (adjointWorkgroupFits(mlp)) add(adjointWorkgroupKernel, spec, label);
      if (adjointWorkgroupFits(mlp)) add(adjointWorkgroupKernel, { ...spec, perSampleTimes: true }, `${label} per-sample times`);
      add(backpropKernel, spec, label);
      add(backpropKernel, { ...spec, perSampleTimes: true }, `${label} per-sample times`);
    }
  }
  for (const kind of UNMASKED_LOSS_KINDS) add(lossKernel, kind, kind);
  for (const kind of MASKED_LOSS_KINDS) add(maskedLossKernel, kind, kind);
  // Flows: exact and Hutchinson traces, with and without the regularisers and the time input, a linear field.
  const fields: CnfFieldSpec[] = [
    { mlp: { layers: [3, 16, 16, 2], activation: 'tanh', timeInput: true }, trace: 'exact', kinetic: false, jacobian: false },
    { mlp: { layers: [4, 8, 4], activation: 'softplus', timeInput: false }, trace: 'exact', kinetic: true, jacobian: true },
    { mlp: { layers: [2, 8, 2], activation: 'silu', timeInput: false }, trace: 'hutchinson', kinetic: false, jacobian: true },
    { mlp: { layers: [3, 2], activation: 'identity', timeInput: true }, trace: 'hutchinson', kinetic: true, jacobian: false },
    { mlp: { layers: [3, 64, 64, 2], activation: 'sigmoid', timeInput: true }, trace: 'exact', kinetic: true, jacobian: true },
  ];
  for (const field of fields) {
    const m = `[${field.mlp.layers.join(',')}] ${field.trace}${field.kinetic ? ' +kinetic' : ''}${field.jacobian ? ' +jacobian' : ''}`;
    for (const tableau of [TABLEAUX.dopri5, TABLEAUX.rk4]) add(cnfIntegrateKernel, { field, tableau }, `${m} ${tableau.name}`);
    add(cnfDensityKernel, field, m);
    add(cnfCotangentKernel, field, m);
    for (const tableau of [TABLEAUX.dopri5, TABLEAUX.rk4]) add(cnfAdjointKernel, { field, tableau }, `${m} ${tableau.name}`);
  }
  for (const kind of ['sgd', 'adam'] as const) add(optimKernel, kind, kind);
  for (const [inFeatures, outFeatures] of [[3, 2], [2, 10], [64, 1]]) add(linearKernel, { inFeatures, outFeatures }, `${inFeatures}→${outFeatures}`);
  for (const cell of ['gru', 'rnn'] as const) {
    for (const [inputSize, hiddenSize] of [[1, 1], [3, 25], [300, 7], [2, 256]]) {
      const spec = { cell, inputSize, hiddenSize };
      add(recurrentKernel, spec, `${cell} ${inputSize}→${hiddenSize}`);
      add(recurrentParamsKernel, spec, `${cell} ${inputSize}→${hiddenSize}`);
    }
  }
  for (const def of [minibatchKernel, gateKernel, summaryKernel, seedKernel, reduceKernel, latentKernel, accumulateKernel] as AnyKernel[]) add(def, null, '');
  return out;
}

/** The WGSL type of a reflected variable, written as the definitions write it. */
function reflectedType(v: { isArray: boolean; format: { name: string } | null; count: number; type: { name: string } }): string {
  if (!v.isArray) return v.type.name;
  return v.count > 0 ? `array<${v.format?.name}, ${v.count}>` : `array<${v.format?.name}>`;
}

/**
 * The reflection of a module. wgsl_reflect reports "SetDataValue: Type
 * mismatch" on console.error when it evaluates the constant arrays of the
 * lane kernel's tableau (its own evaluator, not a parse error); those
 * messages are dropped here, anything else it reports passes through, and
 * parse errors still throw.
 */
function reflect(code: string): WgslReflect {
  const error = console.error.bind(console);
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    if (!(typeof args[0] === 'string' && args[0].startsWith('SetDataValue: Type mismatch'))) error(...args);
  });
  try {
    return new WgslReflect(code);
  } finally {
    spy.mockRestore();
  }
}

/** What is wrong with `code` as the module of `def` for `spec` (nothing: an empty list). Throws if it does not parse. */
function problems(def: AnyKernel, spec: unknown, code: string): string[] {
  const out: string[] = [];
  if (code.includes('${')) out.push('a template marker is left');
  const reflected = reflect(code);
  const groups = reflected.getBindGroups();
  if (groups.length > 1) out.push(`bindings outside group 0 (${groups.length} groups)`);
  const declared = (groups[0] ?? []).filter((v) => v !== undefined);
  const wanted = Object.entries(def.bindings(spec));
  if (declared.length !== wanted.length) out.push(`${declared.length} bindings declared, ${wanted.length} defined`);
  wanted.forEach(([name, b], i) => {
    const v = declared.find((d) => d.binding === i);
    if (!v) return out.push(`binding ${i} (${name}) is not declared`);
    const got = {
      name: v.name,
      space: v.resourceType === 0 ? 'uniform' : v.resourceType === 1 ? 'storage' : `resource type ${v.resourceType}`,
      access: v.resourceType === 1 ? v.access : undefined,
      type: reflectedType(v),
    };
    const want = {
      name,
      space: b.access === 'uniform' ? 'uniform' : 'storage',
      access: b.access === 'uniform' ? undefined : b.access,
      type: b.type,
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`binding ${i}: declared ${JSON.stringify(got)}, defined ${JSON.stringify(want)}`);
  });
  const compute = reflected.entry.compute.map((f) => f.name).sort();
  const entries = [...def.entryPoints].sort();
  if (JSON.stringify(compute) !== JSON.stringify(entries)) out.push(`@compute functions ${compute.join(', ')}; entry points ${entries.join(', ')}`);
  return out;
}

const ALL = cases();

describe('generated WGSL modules', () => {
  it('cover every kernel definition', () => {
    const names = new Set(ALL.map((c) => c.def.name));
    expect([...names].sort()).toEqual(
      [
        'accumulate',
        'adjoint',
        'adjoint-lanes',
        'adjoint-workgroup',
        'backprop',
        'cnf-adjoint',
        'cnf-cotangent',
        'cnf-density',
        'cnf-integrate',
        'gate',
        'integrate',
        'integrate-lanes',
        'latent',
        'linear',
        'loss',
        'masked-loss',
        'minibatch',
        'mlp-forward',
        'optim',
        'recurrent',
        'recurrent-params',
        'reduce',
        'seed',
        'summary',
        'time-gradient',
      ].sort(),
    );
    expect(ALL.length).toBeGreaterThan(150);
  });

  it('leave no template marker', () => {
    const left = ALL.filter((c) => kernelWgsl(c.def, c.spec).includes('${')).map((c) => c.label);
    expect(left).toEqual([]);
  });

  const byKernel = new Map<string, Case[]>();
  for (const c of ALL) byKernel.set(c.def.name, [...(byKernel.get(c.def.name) ?? []), c]);
  it.each([...byKernel.keys()])('%s: parse, declare the bindings of the definition in its order, and define its entry points', (name) => {
    const failures: string[] = [];
    for (const c of byKernel.get(name) ?? []) {
      try {
        for (const p of problems(c.def, c.spec, kernelWgsl(c.def, c.spec))) failures.push(`${c.label}: ${p}`);
      } catch (e) {
        failures.push(`${c.label}: does not parse: ${String(e)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

describe('the module check', () => {
  const mlp: MlpSpec = { layers: [3, 8, 2], activation: 'tanh', timeInput: true };
  const spec = { mlp, tableau: TABLEAUX.dopri5 };
  const code = kernelWgsl(integrateKernel, spec);

  it('passes the module as generated', () => {
    expect(problems(integrateKernel, spec, code)).toEqual([]);
  });

  it('fails on a missing binding', () => {
    const broken = code.replace(/^@group\(0\) @binding\(6\) var<storage, read_write> ycur: array<f32>;$/m, '');
    expect(broken).not.toBe(code);
    expect(problems(integrateKernel, spec, broken)).toContain('binding 6 (ycur) is not declared');
  });

  it('fails on bindings out of order, a wrong access or a wrong θ length', () => {
    const swapped = code
      .replace('@binding(2) var<storage, read> y0', '@binding(9) var<storage, read> y0')
      .replace('@binding(3) var<storage, read> tout', '@binding(2) var<storage, read> tout')
      .replace('@binding(9) var<storage, read> y0', '@binding(3) var<storage, read> y0');
    expect(problems(integrateKernel, spec, swapped).length).toBeGreaterThan(0);
    const access = code.replace('var<storage, read> y0', 'var<storage, read_write> y0');
    expect(problems(integrateKernel, spec, access).join('\n')).toContain('binding 2');
    const length = code.replace(/theta: array<f32, \d+>/, 'theta: array<f32>');
    expect(problems(integrateKernel, spec, length).join('\n')).toContain('binding 1');
  });

  it('fails on a missing entry point and on a leftover marker', () => {
    const renamed = code.replace('fn batch_commit(', 'fn batch_commit_renamed(');
    expect(problems(integrateKernel, spec, renamed).join('\n')).toContain('@compute functions');
    expect(problems(integrateKernel, spec, `${code}\n// \${DENSE}`)).toContain('a template marker is left');
  });

  it('fails on a module that does not parse', () => {
    expect(() => problems(integrateKernel, spec, code.replace('fn write_row(row: u32, b: u32) {', 'fn write_row(row: u32, b: u32 {'))).toThrow();
  });
});

describe('evaluation call sites of the RK stages', () => {
  // SwiftShader (like most GPU compilers) inlines every call, so a stage
  // written out per call carries one copy of the MLP or its VJP each: the
  // stages are a loop with one evaluation statement.
  const mlp: MlpSpec = { layers: [2, 16, 2], activation: 'tanh', timeInput: false };
  /** The body of `fn name(` … up to the next top-level function. */
  const body = (code: string, name: string) => {
    const from = code.indexOf(`fn ${name}(`);
    const to = code.indexOf('\nfn ', from + 1);
    return code.slice(from, to < 0 ? undefined : to);
  };
  for (const tableau of Object.values(TABLEAUX)) {
    it(`${tableau.name}: one evaluation in rk_stages of the forward and the one-sample adjoint`, () => {
      const forward = body(kernelWgsl(integrateKernel, { mlp, tableau }), 'rk_stages');
      expect(forward.match(/\brhs_eval\(/g) ?? []).toHaveLength(1);
      const adjoint = body(kernelWgsl(adjointKernel, { mlp, tableau }), 'rk_stages');
      expect(adjoint.match(/\bmlp_vjp\(/g) ?? []).toHaveLength(1);
      expect(adjoint).not.toMatch(/\brhs_eval\(/);
    });
  }
});
