/**
 * Typed errors of webode. Every error a user can provoke is an instance of
 * `WebodeError`; the subclasses say where it came from:
 *
 * - `ArgumentError`: bad input, thrown before any GPU work. Names the argument,
 *   the value received and what was expected.
 * - `WebGPUUnavailableError`: no `navigator.gpu`, or no adapter / device.
 * - `DeviceLostError`: the GPU device was lost (driver reset, `device.destroy()`).
 * - `DestroyedError`: an object was used after `destroy()`.
 * - `GPUWorkError`: WebGPU rejected a solve's work (out of memory, a buffer
 *   destroyed behind webode's back, a validation error), so it did not run
 *   and its results are not valid.
 * - `OdeSolveError`: a numerical failure during a solve (non-finite state, step
 *   size underflow, `maxSteps` exhausted), with the failing samples and the
 *   time each one reached. The partial solution stays available on the error.
 */

/** Base class of every error thrown by webode. */
export class WebodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Describes a received value briefly for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (ArrayBuffer.isView(value) && 'length' in value) {
    return `${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  }
  if (Array.isArray(value)) {
    const head = value.slice(0, 6).map((v) => describeValue(v)).join(', ');
    return `[${head}${value.length > 6 ? ', …' : ''}] (length ${value.length})`;
  }
  if (typeof value === 'function') return 'a function';
  return Object.prototype.toString.call(value);
}

/** Bad input: thrown synchronously or as a rejection before any GPU work is issued. */
export class ArgumentError extends WebodeError {
  /** The argument at fault: a name or path such as `options.rtol` or `y0[3]`. */
  readonly argument: string;
  /** The value received. */
  readonly received: unknown;
  /** What the argument should have been. */
  readonly expected: string;
  constructor(argument: string, received: unknown, expected: string) {
    super(`${argument}: expected ${expected}, received ${describeValue(received)}`);
    this.argument = argument;
    this.received = received;
    this.expected = expected;
  }
}

/** WebGPU is missing from this browser, or no adapter or device could be obtained. */
export class WebGPUUnavailableError extends WebodeError {}

/**
 * The GPU device behind a runtime was lost (driver reset, GPU process crash,
 * `device.destroy()`): every pending and further call on that runtime rejects
 * with this error. Create a new runtime to continue; objects made on the lost
 * one (MLPs, tensors, solutions) cannot move to it.
 */
export class DeviceLostError extends WebodeError {
  /** `GPUDeviceLostInfo.reason`: `'destroyed'` or `'unknown'`. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(
      `GPU device lost (reason: ${reason}; ${message || 'no message'}); this runtime cannot be used any more: create a new one with createRuntime()`,
    );
    this.reason = reason;
  }
}

/** An object was used after its `destroy()` (or its runtime's `destroy()`) was called. */
export class DestroyedError extends WebodeError {
  /** What was used: `'Runtime'`, `'MLP'`, `'Solution'`, `'Tensor "label"'`, … */
  readonly what: string;
  constructor(what: string, cause?: string) {
    super(`${what} has been destroyed${cause ? ` (${cause})` : ''} and can no longer be used`);
    this.what = what;
  }
}

/**
 * WebGPU rejected work a solve submitted — an out-of-memory or validation
 * error (a buffer destroyed with `GPUBuffer.destroy()` behind webode's back,
 * for instance) makes the whole submit skip — so the solve never ran and its
 * outputs or gradients are not valid. Detected when the solve's summary is
 * read (a solve that waits, `check()` of a deferred one): each summary the
 * GPU writes carries a count that stays zero when its submit did not run.
 */
export class GPUWorkError extends WebodeError {
  /** What did not run, e.g. `'odeint dopri5'`. */
  readonly what: string;
  /** The device's latest uncaptured WebGPU error messages (most recent last; may be empty when none has arrived yet). */
  readonly messages: readonly string[];
  constructor(what: string, messages: readonly string[]) {
    const said = messages.length ? `WebGPU reported: ${messages.map((m) => m.trim()).join(' | ')}` : 'no WebGPU error message has arrived yet';
    super(`${what}: WebGPU rejected its work, so it did not run and its results are not valid (${said})`);
    this.what = what;
    this.messages = messages;
  }
}

/**
 * Why one sample of a solve stopped early. 'unfinished': a deferred solve's
 * dispatch budget ran out before the sample reached the last output time
 * (raise `dispatchBudget`).
 */
export type FailureKind = 'nonfinite' | 'step-underflow' | 'max-steps' | 'tape-overflow' | 'unfinished';

/** One failing sample of a solve. */
export interface SampleFailure {
  /** Index of the sample in the batch. */
  readonly sample: number;
  /** How it failed. */
  readonly kind: FailureKind;
  /** The time the sample had reached when it failed (its last accepted time). */
  readonly t: number;
}

/**
 * A numerical failure during a solve. `failures` lists every failing sample
 * (sorted by index); samples not listed finished normally and their outputs
 * in `solution.y` are valid. Outputs of a failing sample are valid for the
 * output times it passed before failing (see `solution.stats()`).
 *
 * A deferred gradient solve keeps no per-sample state to read back: its
 * error lists the first failing sample only, and `failing` says how many failed.
 */
export class OdeSolveError<S = unknown> extends WebodeError {
  /** The failing samples (the first only for a deferred gradient solve). */
  readonly failures: readonly SampleFailure[];
  /** The partial result (a Solution or Gradients): finished samples are valid; destroy it when done. */
  readonly solution: S;
  /** How many samples failed (≥ failures.length). */
  readonly failing: number;
  constructor(failures: readonly SampleFailure[], solution: S, totalSamples: number, failing = failures.length) {
    const shown = failures
      .slice(0, 5)
      .map((f) => `sample ${f.sample}: ${f.kind} at t = ${f.t}`)
      .join('; ');
    const more = failing > Math.min(5, failures.length) ? `; … (${failing - Math.min(5, failures.length)} more)` : '';
    super(`solve failed for ${failing} of ${totalSamples} samples: ${shown}${more}`);
    this.failures = failures;
    this.solution = solution;
    this.failing = failing;
  }
}

/**
 * A solve of a wait-free training iteration failed or did not finish within
 * its dispatch budget. It is reported by the first read after it (the loss,
 * `trainer.check()`), since the iteration itself waited for nothing. The
 * failing iteration and every later one up to the read made no parameter
 * update (the optimizer skipped them on the GPU), so the parameters are
 * those after iteration `iteration − 1`; training can go on after the error.
 */
export class TrainingError extends WebodeError {
  /** The first iteration whose solve failed. */
  readonly iteration: number;
  /** Which solve failed. */
  readonly phase: 'forward' | 'backward';
  /** Its first failing sample (index in the mini-batch), why, and the time it reached. */
  readonly failure: SampleFailure;
  /** Samples of that solve that failed. */
  readonly failing: number;
  /** Iterations that made no update (the failing one included). */
  readonly skipped: number;
  constructor(init: { iteration: number; phase: 'forward' | 'backward'; failure: SampleFailure; failing: number; skipped: number }) {
    const f = init.failure;
    const last = init.iteration + init.skipped - 1;
    super(
      `training iteration ${init.iteration}: the ${init.phase} solve failed for ${init.failing} sample(s) ` +
        `(sample ${f.sample}: ${f.kind} at t = ${f.t}); ` +
        `${init.skipped === 1 ? `iteration ${init.iteration} made` : `iterations ${init.iteration}–${last} made`} no update`,
    );
    this.iteration = init.iteration;
    this.phase = init.phase;
    this.failure = f;
    this.failing = init.failing;
    this.skipped = init.skipped;
  }
}
