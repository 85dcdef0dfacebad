/**
 * webode: Neural ordinary differential equations on WebGPU.
 *
 * The public API. Everything exported here is documented; nothing else is public.
 */

/** Device, caches, counters and error handling. */
export { adapterKind, createRuntime, Runtime } from './runtime/runtime';
export type { AdapterKind, RuntimeOptions, RuntimeCounters } from './runtime/runtime';

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
export { CONTROLLERS, DEFAULT_CONTROLLER, MIN_RTOL } from './solver/options';
export type { Controller, ControllerName, ControllerOptions, IntegrateKernel, OdeintOptions, ResolvedOdeintOptions, ReverseSolveOptions, StepControl } from './solver/options';

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
/**
 * The ODE-RNN encoder (Rubanova et al. 2019): irregular series read
 * backwards, an ODE between observations and a GRU update at each, and
 * [μ, log σ] of q(z0 | x); gradients by BPTT and the adjoint of each segment.
 */
export { OdeRnnEncoder, OdeRnnEncoding } from './series/odernn';
export type { OdeRnnOptions, OdeRnnInput, OdeRnnGradients } from './series/odernn';
/** The compile-time spec of a flow's augmented field (`flow.field`): the trace kind and which regularisers are carried. */
export type { CnfFieldSpec } from './mlp/trace';

/** Errors. */
export {
  WebodeError,
  ArgumentError,
  WebGPUUnavailableError,
  DeviceLostError,
  DestroyedError,
  GPUWorkError,
  OdeSolveError,
  TrainingError,
} from './errors';
export type { FailureKind, SampleFailure } from './errors';

/** Training: losses on the GPU (gradients written into the cotangent buffer), masked losses for irregularly observed series. */
export { Loss, LOSS_KINDS, MASKED_LOSS_KINDS } from './train/loss';
export type { LossKind, MaskedLossKind, LossArgs, LossOptions } from './train/loss';
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

/** Series: irregularly sampled time series (padded, masked, per-series times) and their generators. */
export { padSeries, periodicSeries, spiralSeries, PAD_STEP } from './series/datasets';
export type { SeriesBatch, SeriesDataset, RaggedSeries, PeriodicOptions, SpiralOptions } from './series/datasets';
/** Series: the latent ODE (GRU encoder, latent MLP dynamics at per-series times, Linear decoder), its trainer and its noise formula. */
export { LatentODE, LatentData, checkSeriesTimes } from './series/latent';
export type { LatentODEOptions, LatentEncoderKind, LatentPrediction, PredictOptions } from './series/latent';
export { LatentTrainer, LATENT_HISTORY } from './series/latent-trainer';
export type { LatentTrainerOptions, LatentLoss, LatentStepOptions, LatentStepResult, LatentHistory } from './series/latent-trainer';
export { latentNoise } from './kernels/latent';
/** Flows: FFJORD's two-dimensional toy densities, generated on the host from a seed. */
export { toyData, TOY_DATASETS } from './flows/toy-data';
export type { ToyDataset } from './flows/toy-data';
/** Flows: maximum-likelihood training of a flow (the nll loss, the adjoint, the optimizer), wait-free as `Trainer`. */
export { FlowTrainer } from './flows/trainer';
export type { FlowTrainerOptions, EvaluateOptions } from './flows/trainer';
/** Training: the gate, loss ring, reads and fit loop every trainer shares. */
export { TrainingCore, TrainingLoop } from './train/trainer';
