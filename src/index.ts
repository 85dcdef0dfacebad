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
export { DEFAULT_CONTROLLER, MIN_RTOL } from './host/solve';
export type {
  ControllerOptions,
  OdeintOptions,
  ResolvedOdeintOptions,
  SolveSummary,
  SolveStats,
  StepControl,
} from './host/solve';

/** Gradients by the adjoint method (`solution.backward`). */
export { Gradients } from './host/gradients';
export type { BackwardSummary } from './host/gradients';
export type { AdjointKernel, BackwardOptions } from './host/adjoint';

/** Errors. */
export {
  WebodeError,
  ArgumentError,
  WebGPUUnavailableError,
  DeviceLostError,
  DestroyedError,
  OdeSolveError,
  TrainingError,
} from './host/errors';
export type { FailureKind, SampleFailure } from './host/errors';

/** Training: losses on the GPU (gradients written into the cotangent buffer). */
export { Loss, LOSS_KINDS } from './host/train/loss';
export type { LossKind, LossArgs } from './host/train/loss';
/** Training: optimizers as WGSL kernels (PyTorch's SGD and Adam formulas). */
export { Optimizer, SGD, Adam } from './host/train/optim';
export type { SGDOptions, AdamOptions } from './host/train/optim';
/** Training: a trainable linear readout after the ODE block. */
export { Linear } from './host/train/linear';
export type { LinearOptions, LinearForwardArgs, LinearBackwardArgs } from './host/train/linear';
/** Training: datasets uploaded once and mini-batches drawn on the GPU (seeded PCG hash). */
export { TrajectoryDataset, PointDataset, WindowSampler, PointSampler } from './host/train/data';
export type { Batch, Sampler, WindowSamplerOptions, PointSamplerOptions } from './host/train/data';
/** Training: the model (ODE block + optional readout) and the trainer. */
export { NeuralODE } from './host/train/model';
export type { NeuralODEOptions, Prediction } from './host/train/model';
export { Trainer, LOSS_HISTORY } from './host/train/trainer';
export type { TrainerOptions, StepOptions, StepResult, LossHistory, Progress, FitOptions, FitResult } from './host/train/trainer';
/** Training: saving and loading models as JSON, importing PyTorch state_dicts. */
export {
  saveModel,
  loadModel,
  loadParameters,
  importStateDict,
  ModelFormatError,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
} from './host/train/serialize';
export type { ModelJSON, StateDictOptions } from './host/train/serialize';
