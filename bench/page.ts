/**
 * The benchmark page: owns one webode runtime for the whole run and exposes
 * `window.bench.run(section)` to the Node orchestrator (bench/run.mjs), which
 * calls the sections in order and prints what they return. Sections share
 * state through this module (the limits measured first are the roofline the
 * later sections divide by).
 *
 * A section whose peer runs outside the browser (torchdiffeq, a Python
 * process) has a request step as well: `window.bench.peerRequest(section)`
 * returns what the peer must solve, run.mjs runs the peer, and passes its
 * answer to `window.bench.run(section, answer)`.
 *
 * Each section runs inside WebGPU error scopes and also collects uncaptured
 * errors, and returns them: a figure measured while the GPU reported an error
 * is not a figure, so the orchestrator fails the run on any.
 */
import { type Runtime, createRuntime } from '../src/index';
import { type KernelsMeasured, kernelsSection, measureKernels } from './kernels';
import { type Limits, limitsSection, measureLimits, recheckSection } from './limits';
import { flowsSection } from './flows';
import { memorySection } from './memory';
import { peerSection } from './peer';
import { type PrecisionPeerAnswer, precisionPeerRequest, precisionSection } from './precision';
import { profileSection } from './profile';
import { efficiencySection } from './efficiency';
import { type LatentAnswer, latentRequest, latentSection } from './latent';
import { seriesSection } from './series';
import { solvesSection } from './solves';
import { timesSection } from './times';
import type { SectionResult } from './table';
import { type TorchdiffeqAnswer, type TorchdiffeqRequest, torchdiffeqRequest, torchdiffeqSection } from './torchdiffeq';
import { type TrainingRun, trainingSection } from './training';
import { type FlowsAnswer, type FlowsRequest, flowsPeerRequest, flowsPeerSection } from './flows-peer';

interface State {
  rt: Runtime;
  uncaptured: string[];
  limits?: Limits;
  kernels?: KernelsMeasured;
  /** Table 4's runs: the peer compares its spiral training iteration with TF.js's. */
  training?: TrainingRun[];
  /** The problems sent to torchdiffeq, solved again by webode in section 'peer-torchdiffeq'. */
  torchdiffeq?: TorchdiffeqRequest;
  /** The flows problems sent to the FFJORD-style peer, run again by webode in section 'flows-peer'. */
  flowsPeer?: FlowsRequest;
}

let state: State | null = null;

async function init(): Promise<State> {
  if (state) return state;
  const uncaptured: string[] = [];
  const rt = await createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
  state = { rt, uncaptured };
  return state;
}

function needLimits(s: State): Limits {
  if (!s.limits) throw new Error("section 'limits' must run before this one");
  return s.limits;
}

/** `input`: the answer of the section's host-side peer, if it has one (see `peerRequests`). */
const sections: Record<string, (s: State, input?: unknown) => Promise<SectionResult>> = {
  async limits(s) {
    const m = await measureLimits(s.rt);
    s.limits = m.limits;
    return limitsSection(m);
  },
  profile: (s) => profileSection(needLimits(s)),
  efficiency: (s) => efficiencySection(needLimits(s)),
  async kernels(s) {
    const m = await measureKernels(s.rt, needLimits(s));
    s.kernels = m;
    return kernelsSection(m, needLimits(s));
  },
  solves: (s) => solvesSection(s.rt, needLimits(s)),
  async training(s) {
    const r = await trainingSection(s.rt, needLimits(s));
    s.training = r.runs;
    return r.result;
  },
  memory: (s) => memorySection(s.rt, needLimits(s)),
  peer: (s) => peerSection(s.rt, needLimits(s), s.training?.[0] ?? null),
  precision: (s, answer) => precisionSection(s.rt, answer as PrecisionPeerAnswer | undefined),
  'peer-torchdiffeq': (s, answer) => torchdiffeqSection(s.rt, needLimits(s), s.torchdiffeq, answer as TorchdiffeqAnswer | undefined),
  times: (s) => timesSection(s.rt),
  series: (s) => seriesSection(s.rt, needLimits(s)),
  recheck: (s) => recheckSection(s.rt, needLimits(s)),
  flows: (s) => flowsSection(s.rt, needLimits(s)),
  latent: (s, answer) => latentSection(s.rt, answer as LatentAnswer | undefined),
  'flows-peer': (s, answer) => flowsPeerSection(s.rt, s.flowsPeer, answer as FlowsAnswer | undefined),
};

/**
 * Sections that run only when named (`node bench/run.mjs flows`, `… latent`):
 * slow on a software adapter; flows-peer and latent train for minutes per side;
 * efficiency compiles ten variants of the lane solver kernels (minutes).
 */
const optIn: readonly string[] = ['flows', 'flows-peer', 'latent', 'efficiency'];

/** What run.mjs passes from its environment to a peer request. */
interface PeerEnv {
  /** WEBODE_FLOWS_ITERATIONS: training iterations of section flows-peer. */
  flowsIterations?: number;
}

/** Sections with a peer outside the browser: what run.mjs must give that peer (`peer` names it). */
const peerRequests: Record<string, (s: State, env: PeerEnv) => Promise<{ peer: string; request: unknown }>> = {
  async 'peer-torchdiffeq'(s) {
    s.torchdiffeq = await torchdiffeqRequest(s.rt);
    return { peer: 'torchdiffeq', request: s.torchdiffeq };
  },
  async precision() {
    return { peer: 'precision', request: precisionPeerRequest() };
  },
  async latent(s) {
    return { peer: 'latent', request: await latentRequest(s.rt) };
  },
  async 'flows-peer'(s, env) {
    s.flowsPeer = await flowsPeerRequest(s.rt, env.flowsIterations);
    return { peer: 'ffjord', request: s.flowsPeer };
  },
};

export interface SectionReply {
  readonly result: SectionResult | null;
  readonly error: string | null;
  readonly gpuErrors: readonly string[];
  readonly ms: number;
}

declare global {
  interface Window {
    bench: {
      info(): Promise<unknown>;
      sections: readonly string[];
      /** Sections run only when named on the command line. */
      optIn: readonly string[];
      peerRequest(name: string, env?: PeerEnv): Promise<{ peer: string; request: unknown } | null>;
      run(name: string, peerAnswer?: unknown): Promise<SectionReply>;
    };
    benchReady: boolean;
  }
}

window.bench = {
  sections: Object.keys(sections),
  optIn,
  async info() {
    const { rt } = await init();
    const a = rt.adapterInfo;
    return {
      adapter: a ? { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description } : null,
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      limits: {
        maxStorageBufferBindingSize: rt.limits.maxStorageBufferBindingSize,
        maxBufferSize: rt.limits.maxBufferSize,
        maxComputeWorkgroupsPerDimension: rt.limits.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: rt.limits.maxComputeInvocationsPerWorkgroup,
      },
      features: [...rt.device.features].sort(),
    };
  },
  async peerRequest(name, env = {}) {
    const make = peerRequests[name];
    return make ? make(await init(), env) : null;
  },
  async run(name, peerAnswer) {
    const fn = sections[name];
    if (!fn) throw new Error(`unknown bench section ${name}`);
    const s = await init();
    const before = s.uncaptured.length;
    const device = s.rt.device;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('internal');
    const t0 = performance.now();
    let result: SectionResult | null = null;
    let error: string | null = null;
    try {
      result = await fn(s, peerAnswer);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    }
    const elapsed = performance.now() - t0;
    const gpuErrors: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await device.popErrorScope();
      if (e) gpuErrors.push(e.message);
    }
    gpuErrors.push(...s.uncaptured.slice(before));
    return { result, error, gpuErrors, ms: elapsed };
  },
};
window.benchReady = true;
