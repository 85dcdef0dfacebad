/**
 * The flows demo (section 3 of demo/index.html): a continuous normalizing
 * flow (FFJORD) trained live on one of FFJORD's toy densities, with three
 * panels side by side — a histogram of the data, the model density
 * exp(log p) on a grid over [−4, 4]² (one batched logProb on the GPU), and
 * samples from the model — plus the loss curve and the function evaluations
 * per solve.
 *
 * `FlowsRun` is the experiment as plain code (the GPU test trains exactly
 * what the page trains); `FlowsDemo` is its part of the page, started by
 * demo/main.ts. `window.webodeFlows` exposes its state to the page's tests.
 */
import {
  Adam,
  CNF,
  FlowTrainer,
  MLP,
  PointDataset,
  PointSampler,
  type Runtime,
  TOY_DATASETS,
  type ToyDataset,
  toyData,
} from '../src/index';
import { LineChart, View } from './plots';

/** The demo's model and training settings. */
export const FLOWS_DEFAULTS = {
  dataset: '8gaussians' as ToyDataset,
  points: 20_000,
  batch: 128,
  lr: 1e-2,
  hidden: 64,
  t1: 0.5,
  solver: { method: 'dopri5', rtol: 1e-4, atol: 1e-4 } as const,
  /** Grid of the density image, per side, over [−LIM, LIM]². */
  grid: 64,
  samples: 2000,
};
/** Half-width of the square the panels show. */
export const LIM = 4;

/** One training run of a flow on a toy dataset. */
export class FlowsRun {
  readonly data: Float32Array;
  readonly flow: CNF;
  readonly trainer: FlowTrainer;
  private readonly f: MLP;
  private readonly dataset: PointDataset;
  private readonly sampler: PointSampler;
  private readonly adam: Adam;
  private readonly gridPoints: Float32Array;

  constructor(rt: Runtime, options: { dataset: ToyDataset; lr?: number; seed?: number }) {
    const d = FLOWS_DEFAULTS;
    this.data = toyData(options.dataset, d.points, options.seed ?? 1);
    this.f = new MLP(rt, { layers: [3, d.hidden, d.hidden, 2], activation: 'tanh', timeInput: true, seed: 7 });
    this.flow = new CNF(this.f, { t0: 0, t1: d.t1, trace: 'exact' });
    this.dataset = new PointDataset(rt, this.data, new Uint8Array(d.points), { width: 2, classes: 1 });
    this.sampler = new PointSampler(this.dataset, { batch: d.batch, seed: options.seed ?? 1 });
    this.adam = new Adam([this.f.params], { lr: options.lr ?? d.lr });
    this.trainer = new FlowTrainer(this.flow, this.adam, { solver: d.solver });
    const n = d.grid;
    this.gridPoints = new Float32Array(2 * n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        this.gridPoints[2 * (i * n + j)] = -LIM + ((j + 0.5) * 2 * LIM) / n;
        this.gridPoints[2 * (i * n + j) + 1] = LIM - ((i + 0.5) * 2 * LIM) / n; // row 0 at the top
      }
    }
  }

  set lr(v: number) {
    this.adam.lr = v;
  }

  /** One wait-free training iteration. */
  step(): ReturnType<FlowTrainer['step']> {
    return this.trainer.step(this.sampler.next());
  }

  /** The model density exp(log p) on the grid (row 0 at the top), from one batched logProb; and that solve's nfe. */
  async density(): Promise<{ p: Float32Array; nfe: number }> {
    const r = await this.flow.logProb(this.gridPoints, FLOWS_DEFAULTS.solver);
    try {
      const logp = await r.logp.read();
      return { p: logp.map((v) => Math.exp(v)), nfe: r.summary.maxNfe };
    } finally {
      r.destroy();
    }
  }

  /** `count` samples of the model (base points drawn from `seed`), [count][2]. */
  async samples(count: number, seed: number): Promise<Float32Array> {
    const s = await this.flow.sample({ count, seed }, FLOWS_DEFAULTS.solver);
    try {
      return await s.x.read();
    } finally {
      s.destroy();
    }
  }

  destroy(): void {
    this.trainer.destroy();
    this.sampler.destroy();
    this.dataset.destroy();
    this.adam.destroy();
    this.f.destroy();
  }
}

/** A 2-D histogram of points over [−LIM, LIM]², n bins per side, row 0 at the top. */
export function histogram(points: ArrayLike<number>, n: number): Float32Array {
  const h = new Float32Array(n * n);
  for (let k = 0; k + 1 < points.length; k += 2) {
    const j = Math.floor(((points[k] + LIM) / (2 * LIM)) * n);
    const i = Math.floor(((LIM - points[k + 1]) / (2 * LIM)) * n);
    if (i >= 0 && i < n && j >= 0 && j < n) h[i * n + j]++;
  }
  return h;
}

/** What the page's tests read. */
export interface FlowsState {
  iteration: number;
  losses: number[];
  running: boolean;
  draws: number;
  /** The iteration the panels show. */
  drawnIteration: number;
  dataset: ToyDataset;
  /** The last density grid's total mass Σ p·cell area (≈ 1 once the density fits in the square). */
  mass: number;
  /** Largest nfe of the last forward / backward training solves, and of the density solve. */
  nfe: { forward: number; backward: number; density: number };
}

declare global {
  interface Window {
    webodeFlows: FlowsState;
  }
}

function el<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`demo: element #${id} is missing`);
  return e;
}

/** The flows section of the page: controls, three panels, two charts, its own training loop. */
export class FlowsDemo {
  private run: FlowsRun | null = null;
  private readonly rt: Runtime;
  private readonly onError: (e: unknown) => void;
  private readonly state: FlowsState;
  private readonly views = {
    data: new View(el('flows-data', HTMLCanvasElement), LIM),
    density: new View(el('flows-density', HTMLCanvasElement), LIM),
    samples: new View(el('flows-samples', HTMLCanvasElement), LIM),
  };
  private readonly lossChart = new LineChart(el('flows-loss', HTMLDivElement), 'flows: negative log-likelihood', [{ label: 'NLL (nats)', color: '#2857c5' }], false);
  private readonly nfeChart = new LineChart(el('flows-nfe', HTMLDivElement), 'flows: NFE per solve', [
    { label: 'forward', color: '#7a4fc2' },
    { label: 'backward', color: '#1f9a6b' },
  ], false);
  private readonly select: HTMLSelectElement;
  private readonly buttons: { start: HTMLButtonElement; pause: HTMLButtonElement; reset: HTMLButtonElement };
  private running = false;
  private loop: Promise<void> | null = null;
  private t0 = 0;
  private itersAtStart = 0;
  /** Iterations per second of the last (or current) run of the loop. */
  private rate = 0;

  constructor(rt: Runtime, onError: (e: unknown) => void) {
    this.rt = rt;
    this.onError = onError;
    this.state = { iteration: 0, losses: [], running: false, draws: 0, drawnIteration: -1, dataset: FLOWS_DEFAULTS.dataset, mass: Number.NaN, nfe: { forward: 0, backward: 0, density: 0 } };
    window.webodeFlows = this.state;
    const controls = el('flows-controls', HTMLDivElement);
    const button = (text: string, id: string, primary = false) => {
      const b = document.createElement('button');
      b.textContent = text;
      b.id = `flows-${id}`;
      if (primary) b.className = 'primary';
      return b;
    };
    this.buttons = { start: button('Start', 'start', true), pause: button('Pause', 'pause'), reset: button('Reset', 'reset') };
    this.buttons.pause.disabled = true;
    this.select = document.createElement('select');
    this.select.id = 'flows-dataset';
    for (const name of TOY_DATASETS) this.select.add(new Option(name, name, name === FLOWS_DEFAULTS.dataset, name === FLOWS_DEFAULTS.dataset));
    const label = document.createElement('label');
    label.append('data (resets)', this.select);
    controls.append(this.buttons.start, this.buttons.pause, this.buttons.reset, label);
    this.buttons.start.addEventListener('click', () => this.start());
    // Pausing brings the charts up to date and redraws the panels, so they show the model as paused.
    this.buttons.pause.addEventListener('click', () => void this.pause().then(() => this.catchUp()).catch(onError));
    this.buttons.reset.addEventListener('click', () => void this.reset().catch(onError));
    this.select.addEventListener('change', () => void this.reset().catch(onError));
  }

  private ensure(): FlowsRun {
    if (!this.run) {
      const dataset = (TOY_DATASETS as readonly string[]).includes(this.select.value) ? (this.select.value as ToyDataset) : FLOWS_DEFAULTS.dataset;
      this.state.dataset = dataset;
      this.run = new FlowsRun(this.rt, { dataset });
    }
    return this.run;
  }

  private setRunning(running: boolean): void {
    this.running = running;
    this.state.running = running;
    this.buttons.start.disabled = running;
    this.buttons.pause.disabled = !running;
  }

  start(): void {
    if (this.running) return;
    this.setRunning(true);
    const run = this.ensure();
    this.t0 = performance.now();
    this.itersAtStart = run.trainer.iteration;
    this.loop = (async () => {
      try {
        while (this.running) await this.iterate(run);
      } catch (e) {
        this.onError(e);
      } finally {
        this.setRunning(false);
      }
    })();
  }

  async pause(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
  }

  /** One iteration (no host wait); every 10th reads the loss ring, every 50th redraws the panels. */
  private async iterate(run: FlowsRun): Promise<void> {
    const r = await run.step();
    this.state.iteration = r.iteration;
    if (r.iteration % 10 === 0) await this.readHistory(run);
    if (r.iteration % 50 === 0) await this.draw();
  }

  /** Reads the losses and nfe of the iterations since the last read (one host wait) into the charts. */
  private async readHistory(run: FlowsRun): Promise<void> {
    const h = await run.trainer.readLossHistory();
    h.losses.forEach((v, k) => {
      this.state.losses.push(v);
      this.lossChart.push(h.first + k, [v]);
      this.nfeChart.push(h.first + k, [h.forwardNfe[k], h.backwardNfe[k]]);
    });
    const last = h.losses.length - 1;
    if (last >= 0) Object.assign(this.state.nfe, { forward: h.forwardNfe[last], backward: h.backwardNfe[last] });
    this.lossChart.draw();
    this.nfeChart.draw();
    this.stats();
  }

  /** After a pause: the charts and panels at the paused iteration. */
  private async catchUp(): Promise<void> {
    if (this.run) await this.readHistory(this.run);
    await this.draw();
  }

  private stats(): void {
    const s = this.state;
    const run = this.run;
    const n = run ? run.trainer.iteration - this.itersAtStart : 0;
    if (this.running && n > 0) this.rate = (1000 * n) / (performance.now() - this.t0);
    const rate = this.rate;
    el('flows-stats', HTMLDivElement).textContent = run
      ? `${s.dataset} · iteration ${run.trainer.iteration} · ${rate.toFixed(2)} it/s · NLL ${s.losses.length ? s.losses[s.losses.length - 1].toFixed(3) : '–'} nats` +
        ` · NFE per solve: forward ${s.nfe.forward}, backward ${s.nfe.backward}, density grid ${s.nfe.density}` +
        ` · density mass in view ${Number.isFinite(s.mass) ? s.mass.toFixed(3) : '–'}`
      : 'press Start to train';
  }

  /** Redraws the three panels: data histogram, model density (one logProb over the grid), model samples. */
  async draw(): Promise<void> {
    const run = this.ensure();
    const n = FLOWS_DEFAULTS.grid;
    this.views.data.image(histogram(run.data, n), n);
    const { p, nfe } = await run.density();
    const cell = (2 * LIM) / n;
    this.state.mass = p.reduce((a, v) => a + v, 0) * cell * cell;
    this.state.nfe.density = nfe;
    this.views.density.image(p, n);
    const x = await run.samples(FLOWS_DEFAULTS.samples, 11);
    const v = this.views.samples;
    v.clear();
    for (let k = 0; k + 1 < x.length; k += 2) v.dot(x[k], x[k + 1], 'rgba(200, 50, 30, 0.45)', 1.4);
    this.state.draws++;
    this.state.drawnIteration = run.trainer.iteration;
    this.stats();
  }

  async reset(): Promise<void> {
    await this.pause();
    this.run?.destroy();
    this.run = null;
    Object.assign(this.state, { iteration: 0, losses: [], mass: Number.NaN });
    this.rate = 0;
    this.lossChart.clear();
    this.nfeChart.clear();
    await this.draw();
  }
}
