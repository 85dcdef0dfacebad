/**
 * Experiment (not library code): standalone WGSL variants of the batched MLP
 * forward f(z) for the MLP-throughput study (bench/experiments/README.md).
 *
 * Every variant computes exactly what src/kernels/forward.ts computes (tanh
 * hidden layers, identity output, PyTorch parameter layout, one output row per
 * sample) with the same bindings: 0 uniform {batch, t, nthreads}, 1 θ (storage
 * or uniform, possibly re-laid-out), 2 z, 3 out. The baseline is the library's
 * own generator output (forwardWgsl).
 *
 * Knobs of the generated variants:
 *   style   'loop'   — the library's structure: loops, private arrays, dynamic indices
 *           'unroll' — every loop unrolled, every value a `let`, every θ index a constant
 *   weights 'rt'      — θ as a runtime-sized storage array<f32> (as the library binds it)
 *           'sized'   — θ as a fixed-size storage array<f32, P> (no robustness clamp on constant indices)
 *           'uniform' — θ in a uniform buffer array<vec4<f32>, ⌈P/4⌉>
 *           'wg'      — θ copied to workgroup memory once per workgroup, then a grid-stride loop over samples
 *   lanes   1 | 4 | 8 — samples per invocation (4 and 8 as one or two vec4<f32> lanes)
 *   tanh    'builtin' | 'fast' (odd rational 13/6, Eigen/XLA/MLAS coefficients)
 *   stream  fuse the last Linear into the loop of the layer before it (no array for that hidden layer)
 */
import { forwardWgsl } from '../../src/kernels/forward';
import { f32Literal } from '../../src/kernels/layout';
import { type MlpSpec, mlpOffsets } from '../../src/kernels/mlp';

export type Style = 'loop' | 'unroll' | 'semi';
export type Weights = 'rt' | 'sized' | 'uniform' | 'wg' | 'const' | 'priv';
export type Tanh = 'builtin' | 'fast' | 'none';

export interface GenOptions {
  readonly style: Style;
  readonly weights: Weights;
  readonly lanes: 1 | 4 | 8 | 16;
  readonly tanh: Tanh;
  readonly stream?: boolean;
  /** a + w·x (two roundings) instead of fma(w, x, a). */
  readonly madd?: boolean;
}

export interface Variant {
  readonly id: string;
  readonly desc: string;
  readonly code: string;
  readonly entry: string;
  /** How binding 1 is bound. */
  readonly thetaBinding: 'storage' | 'uniform';
  /** θ as binding 1 holds it (re-laid-out / padded where the variant needs it). */
  readonly theta: Float32Array;
  readonly workgroupSize: number;
  /** Workgroups to dispatch and invocations they make (the grid stride). */
  dispatch(batch: number): { workgroups: number; nthreads: number };
}

export const WG = 64;
/** Workgroups of the grid-stride ('wg') variants: a few per core, so the θ copy is amortised over many samples. */
export const GRID_WORKGROUPS = 16;

const PARAMS_WGSL = 'struct EP { batch: u32, t: f32, nthreads: u32, pad: u32 }';

/** Eigen / XLA / MLAS fast tanh: x·P(x²)/Q(x²), degrees 13/6, clamped where tanh rounds to ±1. */
const TANH_A = ['4.89352455891786e-03', '6.37261928875436e-04', '1.48572235717979e-05', '5.12229709037114e-08', '-8.60467152213735e-11', '2.00018790482477e-13', '-2.76076847742355e-16'];
const TANH_B = ['4.89352518554385e-03', '2.26843463243900e-03', '1.18534705686654e-04', '1.19825839466702e-06'];
export const FAST_TANH_CLAMP = '7.90531110763549805';

/** CPU float32 emulation of the fast tanh (for the accuracy table). */
export function fastTanhCpu(x: number): number {
  const f = Math.fround;
  const A = TANH_A.map(Number).map(f);
  const B = TANH_B.map(Number).map(f);
  const c = f(Math.min(Math.max(x, -Number(FAST_TANH_CLAMP)), Number(FAST_TANH_CLAMP)));
  const x2 = f(c * c);
  let p = A[6];
  for (let i = 5; i >= 0; i--) p = f(x2 * p + A[i]);
  p = f(p * c);
  let q = B[3];
  for (let i = 2; i >= 0; i--) q = f(x2 * q + B[i]);
  return f(p / q);
}

/** `act` (f32) and `act4` (vec4<f32>) with the library's NaN pass-through. */
export function activationCode(tanh: Tanh): string {
  const body = (T: string) => {
    if (tanh === 'none') return 'x';
    if (tanh === 'builtin') return `tanh(clamp(x, ${T}(-9.1), ${T}(9.1)))`;
    const c = `clamp(x, ${T}(-${FAST_TANH_CLAMP}), ${T}(${FAST_TANH_CLAMP}))`;
    return `tanh_fast_${T === 'f32' ? 's' : 'v'}(${c})`;
  };
  const fast = (T: string, n: string) => {
    // Horner in x², numerator odd (×x), denominator even.
    let p = `${T}(${TANH_A[6]})`;
    for (let i = 5; i >= 0; i--) p = `fma(x2, ${p}, ${T}(${TANH_A[i]}))`;
    let q = `${T}(${TANH_B[3]})`;
    for (let i = 2; i >= 0; i--) q = `fma(x2, ${q}, ${T}(${TANH_B[i]}))`;
    return `fn tanh_fast_${n}(c: ${T}) -> ${T} {\n  let x2 = c * c;\n  let p = c * ${p};\n  let q = ${q};\n  return p / q;\n}`;
  };
  return [
    'fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
    'fn is_nan4(x: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }',
    ...(tanh === 'fast' ? [fast('f32', 's'), fast('vec4<f32>', 'v')] : []),
    `fn act(x: f32) -> f32 { return select(${body('f32')}, x, is_nan(x)); }`,
    `fn act4(x: vec4<f32>) -> vec4<f32> { return select(${body('vec4<f32>')}, x, is_nan4(x)); }`,
  ].join('\n');
}

function paddedTo4(theta: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(theta.length / 4) * 4);
  out.set(theta);
  return out;
}

/** WGSL expression of θ[k] (k a number: a constant index; a string: a u32 expression). */
function weightExpr(weights: Weights, k: number | string, theta?: Float32Array): string {
  if (weights === 'const') {
    // Diagnostic only: θ baked into the shader text as literals (needs constant indices).
    if (typeof k !== 'number' || !theta) throw new Error('const weights need the unrolled style');
    return f32Literal(theta[k]);
  }
  if (weights === 'uniform') {
    if (typeof k === 'number') return `thu[${k >> 2}].${'xyzw'[k & 3]}`;
    return `thu[(${k}) >> 2u][(${k}) & 3u]`;
  }
  const name = weights === 'wg' ? 'wsh' : weights === 'priv' ? 'tpv' : 'theta';
  return typeof k === 'number' ? `${name}[${k}u]` : `${name}[${k}]`;
}

function label(spec: MlpSpec, o: GenOptions): string {
  return `${o.style}|${o.weights}|K${o.lanes}|${o.tanh}${o.stream ? '|stream' : ''}|[${spec.layers.join(',')}]`;
}

/** The generated variants (every option combination is valid). */
export function generate(spec: MlpSpec, theta: Float32Array, o: GenOptions, id: string, desc: string): Variant {
  const { layers: L, count: NP } = mlpOffsets(spec.layers);
  const D = spec.layers[spec.layers.length - 1];
  const IN = spec.layers[0];
  if (spec.timeInput) throw new Error('experiments: no time input');
  const K = o.lanes;
  const G = K === 1 ? 1 : K / 4; // vec4 groups
  const T = K === 1 ? 'f32' : 'vec4<f32>';
  const S = (w: string) => (K === 1 ? w : `vec4<f32>(${w})`);
  const A = K === 1 ? 'act' : 'act4';
  const W = (k: number | string) => weightExpr(o.weights, k, theta);
  const FMA = (w: string, x: string, a: string) => (o.madd ? `${a} + ${w} * ${x}` : `fma(${w}, ${x}, ${a})`);
  const lines: string[] = [];
  const push = (s: string) => lines.push(s);

  push(`// experiment variant ${label(spec, o)}`);
  push(PARAMS_WGSL);
  push('@group(0) @binding(0) var<uniform> P: EP;');
  if (o.weights === 'uniform') push(`@group(0) @binding(1) var<uniform> thu: array<vec4<f32>, ${Math.ceil(NP / 4)}>;`);
  else if (o.weights === 'sized') push(`@group(0) @binding(1) var<storage, read> theta: array<f32, ${NP}>;`);
  else push('@group(0) @binding(1) var<storage, read> theta: array<f32>;');
  push('@group(0) @binding(2) var<storage, read> z: array<f32>;');
  push('@group(0) @binding(3) var<storage, read_write> out: array<f32>;');
  if (o.weights === 'wg') push(`var<workgroup> wsh: array<f32, ${NP}>;`);
  if (o.weights === 'priv') push(`var<private> tpv: array<f32, ${NP}>;`);
  push(activationCode(o.tanh));
  push(`const D: u32 = ${D}u;`);
  push(`@compute @workgroup_size(${WG})`);
  push('fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {');
  if (o.weights === 'const') push('  _ = theta[0];');
  if (o.weights === 'wg') {
    push(`  for (var i = lid; i < ${NP}u; i += ${WG}u) { wsh[i] = theta[i]; }`);
    push('  workgroupBarrier();');
  }
  if (o.weights === 'priv') push(`  for (var i = 0u; i < ${NP}u; i++) { tpv[i] = theta[i]; }`);
  push(`  for (var g = gid.x; g * ${K}u < P.batch; g += P.nthreads) {`);
  // Inputs: lane k of group q is sample g·K + 4q + k.
  const sampleOf = (q: number, k: number) => (K === 1 ? 'g' : `min(g * ${K}u + ${4 * q + k}u, P.batch - 1u)`);
  const inputExpr = (q: number, d: number) =>
    K === 1 ? `z[g * D + ${d}u]` : `vec4<f32>(${[0, 1, 2, 3].map((k) => `z[${sampleOf(q, k)} * D + ${d}u]`).join(', ')})`;
  const stores = (val: (q: number, d: number) => string) => {
    for (let q = 0; q < G; q++) {
      for (let k = 0; k < (K === 1 ? 1 : 4); k++) {
        const s = K === 1 ? 'g' : `(g * ${K}u + ${4 * q + k}u)`;
        const comp = K === 1 ? '' : `.${'xyzw'[k]}`;
        const body = Array.from({ length: D }, (_, d) => `out[${s} * D + ${d}u] = ${val(q, d)}${comp};`).join(' ');
        push(K === 1 ? `    ${body}` : `    if (${s} < P.batch) { ${body} }`);
      }
    }
  };
  const last = L.length - 1;
  const stream = !!o.stream && L.length >= 2;

  if (o.style === 'loop' || o.style === 'semi') {
    const semi = o.style === 'semi';
    for (let q = 0; q < G; q++) {
      push(`    var x0_${q}: array<${T}, ${IN}>;`);
      for (let d = 0; d < IN; d++) push(`    x0_${q}[${d}] = ${inputExpr(q, d)};`);
    }
    for (let q = 0; q < G; q++) push(`    var y_${q}: array<${T}, ${D}>;`);
    L.forEach((Ly, l) => {
      if (stream && l === last) return; // fused into layer last-1
      const fuse = stream && l === last - 1;
      const dst = l === last ? 'y' : `x${l + 1}`;
      if (l !== last && !fuse) for (let q = 0; q < G; q++) push(`    var ${dst}_${q}: array<${T}, ${Ly.outWidth}>;`);
      if (fuse) {
        const Lz = L[last];
        for (let q = 0; q < G; q++) for (let j = 0; j < D; j++) push(`    y_${q}[${j}] = ${S(W(Lz.bias + j))};`);
      }
      push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
      push(`      let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
      for (let q = 0; q < G; q++) push(`      var a_${q} = ${S(W(`${Ly.bias}u + o`))};`);
      if (semi) {
        // Inner product unrolled: the state index is a constant, only θ's index is dynamic.
        for (let i = 0; i < Ly.inWidth; i++) {
          push(`      { let wt = ${S(W(`w + ${i}u`))};`);
          for (let q = 0; q < G; q++) push(`        a_${q} = ${FMA('wt', `x${l}_${q}[${i}]`, `a_${q}`)};`);
          push('      }');
        }
      } else {
        push(`      for (var i = 0u; i < ${Ly.inWidth}u; i++) {`);
        push(`        let wt = ${S(W('w + i'))};`);
        for (let q = 0; q < G; q++) push(`        a_${q} = ${FMA('wt', `x${l}_${q}[i]`, `a_${q}`)};`);
        push('      }');
      }
      if (fuse) {
        const Lz = L[last];
        for (let q = 0; q < G; q++) push(`      let h_${q} = ${A}(a_${q});`);
        for (let j = 0; j < D; j++) {
          push(`      let v${j} = ${S(W(`${Lz.weight + j * Lz.inWidth}u + o`))};`);
          for (let q = 0; q < G; q++) push(`      y_${q}[${j}] = ${FMA(`v${j}`, `h_${q}`, `y_${q}[${j}]`)};`);
        }
      } else {
        for (let q = 0; q < G; q++) push(`      ${dst}_${q}[o] = ${l === last ? `a_${q}` : `${A}(a_${q})`};`);
      }
      push('    }');
    });
    stores((q, d) => `y_${q}[${d}]`);
  } else {
    // Fully unrolled: x{l}_{i}_{q} are lets; one reassigned accumulator per group.
    for (let q = 0; q < G; q++) for (let d = 0; d < IN; d++) push(`    let x0_${d}_${q} = ${inputExpr(q, d)};`);
    for (let q = 0; q < G; q++) push(`    var a_${q}: ${T};`);
    for (let q = 0; q < G; q++) for (let j = 0; j < D; j++) push(`    var y${j}_${q}: ${T};`);
    L.forEach((Ly, l) => {
      if (stream && l === last) return;
      const fuse = stream && l === last - 1;
      if (fuse) {
        const Lz = L[last];
        for (let j = 0; j < D; j++) {
          push(`    let bb${j} = ${S(W(Lz.bias + j))};`);
          for (let q = 0; q < G; q++) push(`    y${j}_${q} = bb${j};`);
        }
      }
      for (let oo = 0; oo < Ly.outWidth; oo++) {
        push(`    { let b = ${S(W(Ly.bias + oo))};`);
        for (let q = 0; q < G; q++) push(`    a_${q} = b;`);
        push('    }');
        for (let i = 0; i < Ly.inWidth; i++) {
          if (G === 1) push(`    a_0 = ${FMA(S(W(Ly.weight + oo * Ly.inWidth + i)), `x${l}_${i}_0`, 'a_0')};`);
          else {
            push(`    { let wt = ${S(W(Ly.weight + oo * Ly.inWidth + i))};`);
            for (let q = 0; q < G; q++) push(`    a_${q} = ${FMA('wt', `x${l}_${i}_${q}`, `a_${q}`)};`);
            push('    }');
          }
        }
        if (l === last) for (let q = 0; q < G; q++) push(`    y${oo}_${q} = a_${q};`);
        else if (fuse) {
          const Lz = L[last];
          for (let q = 0; q < G; q++) push(`    let x${l + 1}_${oo}_${q} = ${A}(a_${q});`);
          for (let j = 0; j < D; j++) {
            push(`    { let v = ${S(W(Lz.weight + j * Lz.inWidth + oo))};`);
            for (let q = 0; q < G; q++) push(`    y${j}_${q} = ${FMA('v', `x${l + 1}_${oo}_${q}`, `y${j}_${q}`)};`);
            push('    }');
          }
        } else for (let q = 0; q < G; q++) push(`    let x${l + 1}_${oo}_${q} = ${A}(a_${q});`);
      }
    });
    stores((q, d) => `y${d}_${q}`);
  }
  push('  }');
  push('}');

  const grid = o.weights === 'wg' || o.weights === 'priv';
  return {
    id,
    desc,
    code: lines.join('\n'),
    entry: 'main',
    thetaBinding: o.weights === 'uniform' ? 'uniform' : 'storage',
    theta: o.weights === 'uniform' ? paddedTo4(theta) : theta,
    workgroupSize: WG,
    dispatch(batch) {
      if (grid) return { workgroups: GRID_WORKGROUPS, nthreads: GRID_WORKGROUPS * WG };
      return onePerInvocation(Math.ceil(batch / K));
    },
  };
}

/**
 * The baseline: the library's one-sample forward kernel (MLP.forward now
 * runs the K-lane kernel these experiments led to; `forwardWgsl(spec)`).
 */
/** One invocation per unit of work (a sample, or K of them): ⌈count / WG⌉ workgroups. */
function onePerInvocation(count: number): { workgroups: number; nthreads: number } {
  const workgroups = Math.ceil(count / WG);
  return { workgroups, nthreads: workgroups * WG };
}

export function baseline(spec: MlpSpec, theta: Float32Array): Variant {
  return {
    id: 'a',
    desc: 'baseline: src/kernels forwardWgsl, one sample per invocation (loops, θ storage array<f32>)',
    code: forwardWgsl(spec, { lanes: 1, workgroupSize: WG }),
    entry: 'forward',
    thetaBinding: 'storage',
    theta,
    workgroupSize: WG,
    dispatch: onePerInvocation,
  };
}

/**
 * (c) θ as array<vec4<f32>> in a padded layout: per layer, every weight row
 * padded to a multiple of 4 inputs and the rows to a multiple of 4 outputs,
 * then the bias padded to a multiple of 4; 4 output rows at a time, each a
 * vec4 accumulator over 4 inputs (one 16-byte load per 4 FMAs), summed
 * horizontally at the end. One sample per invocation, loops as the baseline.
 */
export function vec4Weights(spec: MlpSpec, theta: Float32Array, tanh: Tanh, id: string, desc: string): Variant {
  const { layers: L } = mlpOffsets(spec.layers);
  const D = spec.layers[spec.layers.length - 1];
  const IN = spec.layers[0];
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  // Build the padded layout (offsets in vec4 units).
  const chunks: number[] = [];
  const offs = L.map((Ly) => {
    const inP = up4(Ly.inWidth);
    const outP = up4(Ly.outWidth);
    const w4 = chunks.length / 4;
    for (let o = 0; o < outP; o++)
      for (let i = 0; i < inP; i++) chunks.push(o < Ly.outWidth && i < Ly.inWidth ? theta[Ly.weight + o * Ly.inWidth + i] : 0);
    const b4 = chunks.length / 4;
    for (let o = 0; o < outP; o++) chunks.push(o < Ly.outWidth ? theta[Ly.bias + o] : 0);
    return { in4: inP / 4, out4: outP / 4, w4, b4 };
  });
  const lines: string[] = [];
  const push = (s: string) => lines.push(s);
  push(`// experiment variant (c) vec4 weights [${spec.layers.join(',')}] ${tanh}`);
  push(PARAMS_WGSL);
  push('@group(0) @binding(0) var<uniform> P: EP;');
  push('@group(0) @binding(1) var<storage, read> th4: array<vec4<f32>>;');
  push('@group(0) @binding(2) var<storage, read> z: array<f32>;');
  push('@group(0) @binding(3) var<storage, read_write> out: array<f32>;');
  push(activationCode(tanh));
  push(`const D: u32 = ${D}u;`);
  push(`@compute @workgroup_size(${WG})`);
  push('fn main(@builtin(global_invocation_id) gid: vec3<u32>) {');
  push('  let g = gid.x;');
  push('  if (g >= P.batch) { return; }');
  push(`  var x0: array<vec4<f32>, ${offs[0].in4}>;`);
  for (let d = 0; d < IN; d++) push(`  x0[${d >> 2}].${'xyzw'[d & 3]} = z[g * D + ${d}u];`);
  L.forEach((_Ly, l) => {
    const f = offs[l];
    const lastL = l === L.length - 1;
    push(`  var x${l + 1}: array<vec4<f32>, ${f.out4}>;`);
    push(`  for (var o4 = 0u; o4 < ${f.out4}u; o4++) {`);
    push(`    let r = ${f.w4}u + o4 * ${4 * f.in4}u;`);
    push('    var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);');
    push(`    for (var i4 = 0u; i4 < ${f.in4}u; i4++) {`);
    push(`      let x = x${l}[i4];`);
    for (let k = 0; k < 4; k++) push(`      c${k} = fma(th4[r + ${k * f.in4}u + i4], x, c${k});`);
    push('    }');
    push(`    let s = th4[${f.b4}u + o4] + vec4<f32>(dot(c0, vec4<f32>(1.0)), dot(c1, vec4<f32>(1.0)), dot(c2, vec4<f32>(1.0)), dot(c3, vec4<f32>(1.0)));`);
    push(`    x${l + 1}[o4] = ${lastL ? 's' : 'act4(s)'};`);
    push('  }');
  });
  for (let d = 0; d < D; d++) push(`  out[g * D + ${d}u] = x${L.length}[${d >> 2}].${'xyzw'[d & 3]};`);
  push('}');
  return {
    id,
    desc,
    code: lines.join('\n'),
    entry: 'main',
    thetaBinding: 'storage',
    theta: Float32Array.from(chunks),
    workgroupSize: WG,
    dispatch: onePerInvocation,
  };
}

/** Diagnostic: no MLP at all, out = z (the per-sample floor: one invocation, D loads, D stores). */
export function copyVariant(spec: MlpSpec, theta: Float32Array): Variant {
  const D = spec.layers[spec.layers.length - 1];
  const code = [
    PARAMS_WGSL,
    '@group(0) @binding(0) var<uniform> P: EP;',
    '@group(0) @binding(1) var<storage, read> theta: array<f32>;',
    '@group(0) @binding(2) var<storage, read> z: array<f32>;',
    '@group(0) @binding(3) var<storage, read_write> out: array<f32>;',
    `@compute @workgroup_size(${WG})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  _ = theta[0];',
    '  let g = gid.x;',
    '  if (g >= P.batch) { return; }',
    ...Array.from({ length: D }, (_, d) => `  out[g * ${D}u + ${d}u] = z[g * ${D}u + ${d}u];`),
    '}',
  ].join('\n');
  return {
    id: 'copy',
    desc: 'diagnostic: out = z, no MLP (per-sample floor)',
    code,
    entry: 'main',
    thetaBinding: 'storage',
    theta,
    workgroupSize: WG,
    dispatch: onePerInvocation,
  };
}
