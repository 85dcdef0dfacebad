/**
 * The demo page: the spiral and the augmented-NODE experiments of
 * demo/experiments.ts, trained live with plots, and the flows demo
 * (demo/flows.ts). Each demo runs its own
 * training loop (start / pause / reset); the page reads the loss ring and
 * redraws its plots every few iterations, so training itself never waits
 * on the GPU more than the solves do.
 *
 * The spiral's run is saved to IndexedDB every few seconds while it trains
 * (a trainer checkpoint, demo/store.ts); after a reload the page offers to
 * resume it, and the resumed run continues exactly where the saved one was.
 *
 * `window.webodeDemo` exposes the state for the page's tests.
 */
import { METHOD_NAMES, type MethodName, type Runtime, WebGPUUnavailableError, createRuntime } from '../src/index';
import { CIRCLES, CIRCLES_DEFAULTS, CirclesRun, SPIRAL_DEFAULTS, SpiralRun, type SpiralSave } from './experiments';
import { loadRun, saveRun } from './store';
import { CLASS_COLORS, LineChart, View } from './plots';
import { FlowsDemo } from './flows';
import { SeriesDemo } from './series';

/** What the page's tests read. */
interface DemoState {
  ready: boolean;
  /** Set when the page cannot run (no WebGPU): the message shown. */
  unavailable: string | null;
  errors: string[];
  spiral: {
    iteration: number;
    losses: number[];
    mse: number[];
    running: boolean;
    draws: number;
    /** The last checkpoint written to IndexedDB: its iteration and last loss. */
    saved: { iteration: number; loss: number | null } | null;
    /** The saved run offered for resuming on load (its iteration), or null. */
    offered: number | null;
    /** The iteration the current run was resumed from, or null. */
    resumedFrom: number | null;
  };
  circles: { iteration: number; losses: [number[], number[]]; running: boolean; draws: number };
}

declare global {
  interface Window {
    webodeDemo: DemoState;
  }
}

const state: DemoState = {
  ready: false,
  unavailable: null,
  errors: [],
  spiral: { iteration: 0, losses: [], mse: [], running: false, draws: 0, saved: null, offered: null, resumedFrom: null },
  circles: { iteration: 0, losses: [[], []], running: false, draws: 0 },
};
window.webodeDemo = state;

function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`demo: element #${id} is missing`);
  return el;
}

function showError(e: unknown): void {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  state.errors.push(msg);
  const box = byId('error', HTMLDivElement);
  box.hidden = false;
  box.textContent = `Training stopped: ${msg}`;
}

const ENABLE_HINT =
  'This page needs WebGPU. Use Chrome or Edge 113 or newer (on Linux, enable chrome://flags/#enable-unsafe-webgpu ' +
  'and chrome://flags/#enable-vulkan, or start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan), ' +
  'Safari 26, or Firefox 141 or newer (on Linux and macOS, set dom.webgpu.enabled in about:config), and open the ' +
  'page over https or from http://localhost.';

function showUnavailable(detail: string): void {
  state.unavailable = detail;
  const box = byId('no-webgpu', HTMLDivElement);
  box.hidden = false;
  box.innerHTML = '';
  const title = document.createElement('strong');
  title.textContent = 'WebGPU is not available in this browser, so the demos cannot run. ';
  const text = document.createElement('span');
  text.textContent = ENABLE_HINT;
  const small = document.createElement('p');
  small.textContent = `(${detail})`;
  box.append(title, text, small);
  byId('demos', HTMLElement).hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Controls.

interface Settings {
  method: MethodName;
  tol: number;
  lr: number;
  width: number;
}

interface Controls {
  settings(): Settings;
  setRunning(running: boolean): void;
}

const TOLERANCES = [1e-3, 1e-4, 1e-5, 1e-6];

function buildControls(
  root: HTMLElement,
  name: string,
  initial: Settings,
  on: { start(): void; pause(): void; reset(): void; change(s: Settings): void },
): Controls {
  const method = document.createElement('select');
  for (const m of METHOD_NAMES) method.add(new Option(m, m, m === initial.method, m === initial.method));
  const tol = document.createElement('select');
  for (const t of TOLERANCES) tol.add(new Option(`rtol ${t.toExponential(0)}`, String(t), t === initial.tol, t === initial.tol));
  const lr = document.createElement('input');
  lr.type = 'number';
  lr.step = 'any';
  lr.min = '0';
  lr.value = String(initial.lr);
  const width = document.createElement('input');
  width.type = 'number';
  width.min = '4';
  width.max = '256';
  width.value = String(initial.width);
  const label = (text: string, el: HTMLElement) => {
    const l = document.createElement('label');
    l.append(text, el);
    return l;
  };
  const button = (text: string, id: string, primary = false) => {
    const b = document.createElement('button');
    b.textContent = text;
    b.id = `${name}-${id}`;
    if (primary) b.className = 'primary';
    return b;
  };
  const start = button('Start', 'start', true);
  const pause = button('Pause', 'pause');
  const reset = button('Reset', 'reset');
  pause.disabled = true;
  root.append(
    start,
    pause,
    reset,
    label('method', method),
    label('tolerance', tol),
    label('learning rate', lr),
    label('width (on reset)', width),
  );
  const settings = (): Settings => {
    const m = METHOD_NAMES.find((x) => x === method.value) ?? initial.method;
    const l = Number(lr.value);
    const w = Math.round(Number(width.value));
    return {
      method: m,
      tol: Number(tol.value),
      lr: Number.isFinite(l) && l > 0 ? l : initial.lr,
      width: Number.isFinite(w) && w >= 4 && w <= 256 ? w : initial.width,
    };
  };
  start.addEventListener('click', () => on.start());
  pause.addEventListener('click', () => on.pause());
  reset.addEventListener('click', () => on.reset());
  for (const el of [method, tol, lr]) el.addEventListener('change', () => on.change(settings()));
  return {
    settings,
    setRunning(running) {
      start.disabled = running;
      pause.disabled = !running;
    },
  };
}

/** Iterations per second over a sliding window of the last iterations. */
class Rate {
  private readonly times: number[] = [];
  tick(): void {
    this.times.push(performance.now());
    if (this.times.length > 50) this.times.shift();
  }
  get value(): number {
    const n = this.times.length;
    return n < 2 ? 0 : (1000 * (n - 1)) / (this.times[n - 1] - this.times[0]);
  }
  reset(): void {
    this.times.length = 0;
  }
}

/** A start/pause/reset training loop around a `step` function. */
abstract class DemoLoop {
  protected running = false;
  private loop: Promise<void> | null = null;

  protected abstract iterate(): Promise<void>;
  protected abstract onRunning(running: boolean): void;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.onRunning(true);
    this.loop = (async () => {
      try {
        while (this.running) await this.iterate();
      } catch (e) {
        this.running = false;
        showError(e);
      } finally {
        this.onRunning(false);
      }
    })();
  }

  async pause(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
  }
}

// ---------------------------------------------------------------------------------------------
// The spiral.

/** How often the spiral's run is saved to IndexedDB while it trains (one host wait each). */
const SAVE_EVERY_MS = 3000;
/** The IndexedDB key of the spiral's saved run. */
const SPIRAL_KEY = 'spiral';

class SpiralDemo extends DemoLoop {
  private run: SpiralRun | null = null;
  private lastSave = 0;
  private readonly resumeButton: HTMLButtonElement;
  private readonly rt: Runtime;
  private readonly controls: Controls;
  private readonly traj = new View(byId('spiral-traj', HTMLCanvasElement), 2.2);
  private readonly fieldView = new View(byId('spiral-field', HTMLCanvasElement), 2.2);
  private readonly chart = new LineChart(byId('spiral-loss', HTMLDivElement), 'spiral: loss', [
    { label: 'window MSE', color: '#2857c5' },
    { label: 'trajectory MSE', color: '#c8321e' },
  ], true);
  private readonly rate = new Rate();
  private nfe = { forward: 0, backward: 0 };
  private lastMse = Number.NaN;
  private lastDraw = 0;

  constructor(rt: Runtime) {
    super();
    this.rt = rt;
    const d = SPIRAL_DEFAULTS;
    this.controls = buildControls(byId('spiral', HTMLElement).querySelector('.controls') ?? document.body, 'spiral', { method: d.method, tol: d.rtol, lr: d.lr, width: d.width }, {
      start: () => this.start(),
      pause: () => void this.pause(),
      reset: () => void this.reset(),
      change: (s) => this.run?.configure({ method: s.method, rtol: s.tol, atol: s.tol / 10, lr: s.lr, lrEnd: s.lr / 10 }),
    });
    this.resumeButton = document.createElement('button');
    this.resumeButton.id = 'spiral-resume';
    this.resumeButton.hidden = true;
    byId('spiral', HTMLElement).querySelector('.controls')?.prepend(this.resumeButton);
  }

  /** Shows the resume button if a saved run is in IndexedDB. */
  async offerResume(): Promise<void> {
    const saved = await loadRun<SpiralSave>(SPIRAL_KEY);
    if (!saved?.checkpoint) return;
    const it = saved.checkpoint.ledger.iteration;
    state.spiral.offered = it;
    this.resumeButton.textContent = `Resume from iteration ${it} (saved ${new Date(saved.savedAt).toLocaleTimeString()})`;
    this.resumeButton.className = 'primary';
    this.resumeButton.hidden = false;
    this.resumeButton.onclick = () => void this.resume(saved).catch(showError);
  }

  /** Replaces the current run by the saved one and trains on from there. */
  private async resume(saved: SpiralSave): Promise<void> {
    this.resumeButton.hidden = true;
    await this.pause();
    this.run?.destroy();
    this.run = new SpiralRun(this.rt, saved.config, saved.checkpoint);
    const { first, losses } = saved.checkpoint.ledger;
    state.spiral.iteration = this.run.trainer.iteration;
    state.spiral.resumedFrom = this.run.trainer.iteration;
    state.spiral.losses = [];
    state.spiral.mse = [];
    this.chart.clear();
    losses.forEach((v, k) => {
      if (v === null) return;
      state.spiral.losses.push(v);
      this.chart.push(first + k, [v, null]);
    });
    this.chart.draw();
    this.rate.reset();
    await this.draw();
    this.start();
  }

  override start(): void {
    this.resumeButton.hidden = true;
    super.start();
  }

  private ensure(): SpiralRun {
    if (!this.run) {
      const s = this.controls.settings();
      this.run = new SpiralRun(this.rt, { method: s.method, rtol: s.tol, atol: s.tol / 10, lr: s.lr, lrEnd: s.lr / 10, width: s.width });
    }
    return this.run;
  }

  protected onRunning(running: boolean): void {
    state.spiral.running = running;
    this.controls.setRunning(running);
  }

  protected async iterate(): Promise<void> {
    const run = this.ensure();
    // A training iteration waits for nothing; every 10th, one read brings the
    // losses and function-evaluation counts of the last ten.
    const r = await run.step();
    this.rate.tick();
    state.spiral.iteration = r.iteration;
    if (r.iteration % 10 === 0) {
      const { first, losses, forwardNfe, backwardNfe } = await run.trainer.readLossHistory();
      losses.forEach((v, k) => {
        state.spiral.losses.push(v);
        this.chart.push(first + k, [v, null]);
      });
      const last = losses.length - 1;
      if (last >= 0) this.nfe = { forward: forwardNfe[last], backward: backwardNfe[last] };
      this.chart.draw();
      this.stats();
    }
    if (r.iteration % 50 === 0 || performance.now() - this.lastDraw > 4000) await this.draw();
    if (performance.now() - this.lastSave > SAVE_EVERY_MS) await this.save(run);
  }

  /** Saves the run to IndexedDB (one host wait for the checkpoint). */
  private async save(run: SpiralRun): Promise<void> {
    this.lastSave = performance.now();
    const saved = await run.save();
    await saveRun(SPIRAL_KEY, saved);
    const { losses } = saved.checkpoint.ledger;
    state.spiral.saved = { iteration: saved.checkpoint.ledger.iteration, loss: losses.length ? losses[losses.length - 1] : null };
  }

  private stats(): void {
    const run = this.run;
    const losses = state.spiral.losses;
    byId('spiral-stats', HTMLDivElement).textContent = run
      ? `iteration ${run.trainer.iteration} · ${this.rate.value.toFixed(1)} it/s · loss ${losses.length ? losses[losses.length - 1].toExponential(2) : '–'}` +
        ` · trajectory MSE ${Number.isFinite(this.lastMse) ? this.lastMse.toExponential(2) : '–'}` +
        ` · NFE per solve: forward ${this.nfe.forward}, backward ${this.nfe.backward} · lr ${run.learningRate(run.trainer.iteration).toExponential(1)}`
      : 'press Start to train';
  }

  /** Redraws the trajectory and the field (a full solve and a field evaluation: two host waits). */
  async draw(): Promise<void> {
    const run = this.ensure();
    this.lastDraw = performance.now();
    const [{ y, mse }, field] = [await run.evaluate(), await run.field(17, 2.2)];
    this.lastMse = mse;
    state.spiral.mse.push(mse);
    if (run.trainer.iteration > 0) {
      this.chart.push(run.trainer.iteration, [null, mse]);
      this.chart.draw();
    }
    const v = this.traj;
    v.clear();
    v.line(run.data.y, '#9aa0aa', 3);
    v.line(y, '#c8321e', 1.6);
    v.dot(2, 0, '#1d2330', 4);
    const fv = this.fieldView;
    fv.clear();
    fv.field(field.points, field.values, 22);
    fv.line(run.data.y, 'rgba(80, 80, 80, 0.35)', 1);
    state.spiral.draws++;
    this.stats();
  }

  async reset(): Promise<void> {
    await this.pause();
    this.run?.destroy();
    this.run = null;
    this.rate.reset();
    this.lastMse = Number.NaN;
    state.spiral.iteration = 0;
    state.spiral.losses = [];
    state.spiral.mse = [];
    this.chart.clear();
    await this.draw();
  }
}

// ---------------------------------------------------------------------------------------------
// Concentric circles, plain and augmented.

const GRID = 36;
const LIM = 2;

class CirclesDemo extends DemoLoop {
  private runs: CirclesRun[] | null = null;
  private readonly rt: Runtime;
  private readonly controls: Controls;
  private readonly regions = [0, 1].map((k) => new View(byId(`circles-regions-${k}`, HTMLCanvasElement), LIM));
  private readonly flows = [0, 1].map((k) => new View(byId(`circles-flow-${k}`, HTMLCanvasElement), LIM));
  private readonly lossChart = new LineChart(byId('circles-loss', HTMLDivElement), 'circles: loss', [
    { label: 'Neural ODE', color: '#7a4fc2' },
    { label: 'Augmented', color: '#1f9a6b' },
  ], true);
  private readonly nfeChart = new LineChart(byId('circles-nfe', HTMLDivElement), 'circles: NFE', [
    { label: 'Neural ODE', color: '#7a4fc2' },
    { label: 'Augmented', color: '#1f9a6b' },
  ], false);
  private readonly rate = new Rate();
  private readonly grid: Float32Array;
  private readonly flowPoints: Float32Array;
  private readonly flowLabels: number[];
  private accuracy: number[] = [Number.NaN, Number.NaN];
  private nfe: number[][] = [[0, 0], [0, 0]];
  private iteration = 0;

  constructor(rt: Runtime) {
    super();
    this.rt = rt;
    const d = CIRCLES_DEFAULTS;
    this.controls = buildControls(byId('circles', HTMLElement).querySelector('.controls') ?? document.body, 'circles', { method: d.method, tol: d.rtol, lr: d.lr, width: d.width }, {
      start: () => this.start(),
      pause: () => void this.pause(),
      reset: () => void this.reset(),
      change: (s) => this.runs?.forEach((r) => r.configure({ method: s.method, rtol: s.tol, atol: s.tol / 10, lr: s.lr })),
    });
    this.grid = new Float32Array(GRID * GRID * 2);
    for (let i = 0; i < GRID; i++) {
      for (let j = 0; j < GRID; j++) {
        this.grid[2 * (i * GRID + j)] = -LIM + ((j + 0.5) * 2 * LIM) / GRID;
        this.grid[2 * (i * GRID + j) + 1] = LIM - ((i + 0.5) * 2 * LIM) / GRID;
      }
    }
    // Flow: points on the three circles, labelled like the data.
    const pts: number[] = [];
    this.flowLabels = [];
    const ring = (r: number, n: number, label: number) => {
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * (k + 0.5)) / n;
        pts.push(r * Math.cos(a), r * Math.sin(a));
        this.flowLabels.push(label);
      }
    };
    ring(CIRCLES.r1 * 0.6, 10, 0);
    ring(CIRCLES.r1 * 0.95, 16, 0);
    ring((CIRCLES.r2 + CIRCLES.r3) / 2, 28, 1);
    this.flowPoints = Float32Array.from(pts);
  }

  private ensure(): CirclesRun[] {
    if (!this.runs) {
      const s = this.controls.settings();
      const c = { method: s.method, rtol: s.tol, atol: s.tol / 10, lr: s.lr, width: s.width };
      this.runs = [new CirclesRun(this.rt, { ...c, augment: 0 }), new CirclesRun(this.rt, { ...c, augment: 1 })];
    }
    return this.runs;
  }

  protected onRunning(running: boolean): void {
    state.circles.running = running;
    this.controls.setRunning(running);
  }

  protected async iterate(): Promise<void> {
    const runs = this.ensure();
    // Iterations wait for nothing; every 10th, one read per model brings the
    // losses and function-evaluation counts of the last ten.
    for (const run of runs) await run.step();
    this.iteration++;
    this.rate.tick();
    state.circles.iteration = this.iteration;
    if (this.iteration % 10 === 0) {
      const hist = await Promise.all(runs.map((r) => r.trainer.readLossHistory()));
      const n = hist[0].losses.length;
      for (let k = 0; k < n; k++) {
        this.lossChart.push(hist[0].first + k, [hist[0].losses[k], hist[1].losses[k]]);
        this.nfeChart.push(hist[0].first + k, [hist[0].forwardNfe[k], hist[1].forwardNfe[k]]);
      }
      hist.forEach((h, m) => {
        if (n > 0) this.nfe[m] = [h.forwardNfe[n - 1], h.backwardNfe[n - 1]];
      });
      hist.forEach((h, m) => state.circles.losses[m].push(...h.losses));
      this.lossChart.draw();
      this.nfeChart.draw();
      this.stats();
    }
    if (this.iteration % 40 === 0) await this.draw();
  }

  private stats(): void {
    const names = ['Neural ODE', 'Augmented'];
    [0, 1].forEach((k) => {
      const losses = state.circles.losses[k];
      byId(`circles-stats-${k}`, HTMLDivElement).textContent =
        `${names[k]} · iteration ${this.iteration} · ${this.rate.value.toFixed(1)} it/s (both) · loss ${losses.length ? losses[losses.length - 1].toFixed(3) : '–'}` +
        ` · accuracy ${Number.isFinite(this.accuracy[k]) ? (100 * this.accuracy[k]).toFixed(1) + '%' : '–'}` +
        ` · NFE forward ${this.nfe[k][0]}, backward ${this.nfe[k][1]}`;
    });
  }

  /** Redraws regions, data and flows of both models. */
  async draw(): Promise<void> {
    const runs = this.ensure();
    for (let k = 0; k < runs.length; k++) {
      const run = runs[k];
      const { p1 } = await run.classify(this.grid);
      const acc = await run.accuracy();
      this.accuracy[k] = acc.accuracy;
      const v = this.regions[k];
      v.regions(p1, GRID);
      const { x, labels } = run.data;
      for (let i = 0; i < Math.min(400, labels.length); i++) v.dot(x[2 * i], x[2 * i + 1], CLASS_COLORS[labels[i]], 2);
      const frames = 9;
      const flow = await run.flow(this.flowPoints, frames);
      const D = run.model.stateDim;
      const B = this.flowPoints.length / 2;
      const f = this.flows[k];
      f.clear();
      for (let b = 0; b < B; b++) {
        const path = new Float32Array(frames * 2);
        for (let i = 0; i < frames; i++) {
          path[2 * i] = flow[(i * B + b) * D];
          path[2 * i + 1] = flow[(i * B + b) * D + 1];
        }
        const color = CLASS_COLORS[this.flowLabels[b]];
        f.line(path, color, 1);
        f.dot(path[0], path[1], '#b8bec9', 2);
        f.dot(path[2 * frames - 2], path[2 * frames - 1], color, 3);
      }
    }
    state.circles.draws++;
    this.stats();
  }

  async reset(): Promise<void> {
    await this.pause();
    this.runs?.forEach((r) => r.destroy());
    this.runs = null;
    this.iteration = 0;
    this.rate.reset();
    this.accuracy = [Number.NaN, Number.NaN];
    state.circles.iteration = 0;
    state.circles.losses = [[], []];
    this.lossChart.clear();
    this.nfeChart.clear();
    await this.draw();
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    showUnavailable('navigator.gpu is undefined');
    state.ready = true;
    return;
  }
  let rt: Runtime;
  try {
    rt = await createRuntime({ onUncapturedError: (e) => showError(new Error(`WebGPU error: ${e.message}`)) });
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) {
      showUnavailable(e.message);
      state.ready = true;
      return;
    }
    throw e;
  }
  const spiral = new SpiralDemo(rt);
  const circles = new CirclesDemo(rt);
  const flows = new FlowsDemo(rt, showError);
  const series = new SeriesDemo(rt, showError);
  await spiral.draw();
  await circles.draw();
  await flows.draw();
  await series.draw();
  await spiral.offerResume();
  state.ready = true;
}

main().catch((e) => {
  showError(e);
  state.ready = true;
});
