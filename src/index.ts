/**
 * webode: Neural ordinary differential equations on WebGPU.
 *
 * The public API. Everything exported here is documented; nothing else is public.
 */

/** Device, caches, counters and error handling. */
export { createRuntime, Runtime } from './runtime/runtime';
export type { RuntimeOptions, RuntimeCounters } from './runtime/runtime';

/** GPU-resident float32 arrays. */
export { Tensor } from './runtime/tensor';

/** The MLP vector field f(t, z; θ). */
export { MLP, defaultParameters, mulberry32 } from './field/mlp';
export type { MLPOptions } from './field/mlp';
export type { Activation } from './mlp/mlp';
export { ACTIVATIONS } from './mlp/mlp';

/** Butcher tableaux of the built-in methods. */
export { TABLEAUX, METHOD_NAMES, getTableau } from './methods/tableau';
export type { Tableau, MethodName } from './methods/tableau';

/** Forward integration. */
export { odeint } from './solver/odeint';
export { Solution } from './solver/solution';
export type { SolveSummary } from './solver/solution';
export type { SolveStats } from './solver/status';
export { DEFAULT_CONTROLLER, MIN_RTOL } from './solver/options';
export type { ControllerOptions, IntegrateKernel, OdeintOptions, ResolvedOdeintOptions, StepControl } from './solver/options';

/** Gradients by the adjoint method (`solution.backward`). */
export { Gradients } from './gradients/gradients';
export type { BackwardSummary } from './gradients/gradients';
export type { AdjointKernel, BackwardOptions } from './gradients/adjoint';
// Loads the gradient solve, which `Solution.backward` reaches through provideGradientSolve.
import './gradients/adjoint';

/**
 * Recurrent cells on the GPU (PyTorch's GRUCell and tanh RNNCell, same
 * parameter layout): a forward over a whole sequence with optional h0 and
 * per-step mask, and backpropagation through time, without host waits.
 */
export { GRUCell, RNNCell, RecurrentCell, RecurrentSequence } from './series/cells';
export type { RecurrentCellOptions, SequenceArgs, SequenceCotangents, SequenceGradients } from './series/cells';
/** The compile-time spec of a cell's kernels (`cell.spec`): the cell kind and its input and hidden widths. */
export type { RecurrentSpec, CellKind } from './kernels/recurrent';
/** Continuous normalizing flows (FFJORD): log p(x) and sampling with the exact or Hutchinson trace, kinetic and Jacobian regularisers. */
export { CNF, FlowDensity, FlowSamples, drawNoise } from './flows/cnf';
export type { CNFOptions, LogProbOptions, SampleOptions, NoiseKind } from './flows/cnf';
export { FlowGradients } from './flows/cnf-backward';
export type { FlowBackwardOptions } from './flows/cnf-backward';
export type { TraceKind } from './mlp/trace';
/** The compile-time spec of a flow's augmented field (`flow.field`): the trace kind and which regularisers are carried. */
export type { CnfFieldSpec } from './mlp/trace';

/** Errors. */
export {
  WebodeError,
  ArgumentError,
  WebGPUUnavailableError,
  DeviceLostError,
  DestroyedError,
  OdeSolveError,
  TrainingError,
} from './errors';
export type { FailureKind, SampleFailure } from './errors';

/** Training: losses on the GPU (gradients written into the cotangent buffer). */
export { Loss, LOSS_KINDS } from './train/loss';
export type { LossKind, LossArgs } from './train/loss';
/** Training: optimizers as WGSL kernels (PyTorch's SGD and Adam formulas). */
export { Optimizer, SGD, Adam } from './train/optim';
export type { SGDOptions, AdamOptions } from './train/optim';
export type { OptimizerKind } from './kernels/optim';
/** Training: a trainable linear readout after the ODE block. */
export { Linear } from './train/linear';
export type { LinearOptions, LinearForwardArgs, LinearBackwardArgs } from './train/linear';
/** Training: datasets uploaded once and mini-batches drawn on the GPU (seeded PCG hash). */
export { TrajectoryDataset, PointDataset, WindowSampler, PointSampler } from './train/data';
export type { Batch, Sampler, WindowSamplerOptions, PointSamplerOptions } from './train/data';
/** Training: the model (ODE block + optional readout) and the trainer. */
export { NeuralODE } from './train/model';
export type { NeuralODEOptions, Prediction } from './train/model';
export { Trainer, LOSS_HISTORY } from './train/trainer';
export type {
  TrainerOptions,
  StepOptions,
  StepResult,
  LossHistory,
  Progress,
  FitOptions,
  FitResult,
  TrainerCheckpoint,
  ResumeOptions,
  ResumedTraining,
} from './train/trainer';
/** Training: checkpoints (`trainer.checkpoint()`, `Trainer.resume`): optimizer state, sampler stream, loss ledger. */
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './train/checkpoint';
export type { OptimizerCheckpoint, SamplerCheckpoint, WindowSamplerCheckpoint, PointSamplerCheckpoint, LedgerCheckpoint } from './train/checkpoint';
/** Training: saving and loading models as JSON, exporting and importing PyTorch state_dicts. */
export {
  saveModel,
  loadModel,
  loadParameters,
  importStateDict,
  exportStateDict,
  STATE_DICT_META,
  ModelFormatError,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
} from './train/serialize';
export type { ModelJSON, StateDictOptions, StateDictJSON, StateDictMeta } from './train/serialize';
