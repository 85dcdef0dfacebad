/**
 * webode: Neural ordinary differential equations on WebGPU.
 *
 * The public API. Everything exported here is documented; nothing else is public.
 */

/** Device, caches, counters and error handling. */
export { createRuntime, Runtime } from './host/runtime';
export type { RuntimeOptions, RuntimeCounters } from './host/runtime';

/** GPU-resident float32 arrays. */
export { Tensor } from './host/tensor';

/** The MLP vector field f(t, z; θ). */
export { MLP, defaultParameters, mulberry32 } from './host/mlp';
export type { MLPOptions } from './host/mlp';
export type { Activation } from './kernels/mlp';
export { ACTIVATIONS } from './kernels/mlp';

/** Butcher tableaux of the built-in methods. */
export { TABLEAUX, METHOD_NAMES, getTableau } from './host/tableau';
export type { Tableau, MethodName } from './host/tableau';

/** Forward integration. */
export { odeint, Solution } from './host/solve';
export type { OdeintOptions, ResolvedOdeintOptions, SolveSummary, SolveStats, StepControl } from './host/solve';

/** Gradients by the adjoint method (`solution.backward`). */
export { Gradients } from './host/adjoint';
export type { BackwardOptions, BackwardSummary } from './host/adjoint';

/** Errors. */
export {
  WebodeError,
  ArgumentError,
  WebGPUUnavailableError,
  DeviceLostError,
  DestroyedError,
  OdeSolveError,
} from './host/errors';
export type { FailureKind, SampleFailure } from './host/errors';
