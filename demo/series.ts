/**
 * Demo section 3: a latent ODE trained live on irregularly sampled series
 * (Rubanova et al.'s periodic toy). For a few test series it draws the
 * observed points, the reconstruction over the observed window and the
 * extrapolation beyond it — the mean of several z0 samples with a ±2σ band —
 * and the ELBO curve. Its state is `window.webodeSeriesDemo` (what
 * test/gpu/demo-series.test.ts reads).
 */
import { Adam, LatentODE, LatentTrainer, type LatentData, type Runtime, type SeriesBatch, type SeriesDataset, periodicSeries } from '../src/index';

/** What the page's test reads. */
export interface SeriesDemoState {
  iteration: number;
  /** −ELBO per iteration (nll + kl). */
  losses: number[];
  elbo: number[];
  running: boolean;
  draws: number;
}

declare global {
  interface Window {
    webodeSeriesDemo: SeriesDemoState;
  }
}

const TRAIN = { batch: 24, seed: 1 };
const TEST = { batch: 3, seed: 99 };
/** Dense prediction times over (0, 5]. */
const DENSE = Array.from({ length: 80 }, (_, i) => (5 * (i + 1)) / 80);
const SAMPLES = 12;
/** Iterations between redraws (each redraw reads the history and predicts: a few host waits). */
const DRAW_EVERY = 25;

/** A time-series panel: x = t ∈ [0, 5], y = value. */
class Panel {
  private readonly ctx: CanvasRenderingContext2D;
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly ymin: number,
    private readonly ymax: number,
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    this.ctx = ctx;
  }
  private px(t: number) {
    return 30 + ((this.canvas.width - 40) * t) / 5;
  }
  private py(v: number) {
    return 10 + ((this.canvas.height - 30) * (this.ymax - v)) / (this.ymax - this.ymin);
  }
  clear(split: number): void {
    const { ctx, canvas } = this;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#f4f4f4';
    ctx.fillRect(this.px(split), 10, this.px(5) - this.px(split), canvas.height - 30);
    ctx.strokeStyle = '#999';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(this.px(0), this.py(this.ymin));
    ctx.lineTo(this.px(5), this.py(this.ymin));
    ctx.moveTo(this.px(0), this.py(this.ymin));
    ctx.lineTo(this.px(0), this.py(this.ymax));
    ctx.stroke();
    ctx.fillStyle = '#555';
    ctx.font = '10px sans-serif';
    for (let t = 0; t <= 5; t++) ctx.fillText(String(t), this.px(t) - 3, canvas.height - 6);
    ctx.fillText('observed', this.px(0) + 4, 20);
    ctx.fillText('extrapolated', this.px(split) + 4, 20);
  }
  band(t: readonly number[], lo: readonly number[], hi: readonly number[], color: string): void {
    const { ctx } = this;
    ctx.fillStyle = color;
    ctx.beginPath();
    t.forEach((x, i) => (i ? ctx.lineTo(this.px(x), this.py(hi[i])) : ctx.moveTo(this.px(x), this.py(hi[i]))));
    for (let i = t.length - 1; i >= 0; i--) ctx.lineTo(this.px(t[i]), this.py(lo[i]));
    ctx.closePath();
    ctx.fill();
  }
  line(t: readonly number[], v: readonly number[], color: string, width = 2): void {
    const { ctx } = this;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    t.forEach((x, i) => (i ? ctx.lineTo(this.px(x), this.py(v[i])) : ctx.moveTo(this.px(x), this.py(v[i]))));
    ctx.stroke();
  }
  dots(t: readonly number[], v: readonly number[], color: string): void {
    const { ctx } = this;
    ctx.fillStyle = color;
    t.forEach((x, i) => {
      ctx.beginPath();
      ctx.arc(this.px(x), this.py(v[i]), 3, 0, 2 * Math.PI);
      ctx.fill();
    });
  }
}

/** A small chart of one curve whose values may be negative. */
function drawCurve(canvas: HTMLCanvasElement, values: readonly number[], label: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.fillText(label, 8, 14);
  if (values.length < 2) return;
  const finite = values.filter(Number.isFinite);
  // Clip the first iterations' huge values so the curve's later shape shows.
  const sorted = [...finite].sort((a, b) => a - b);
  const lo = sorted[0];
  const hi = sorted[Math.floor(0.95 * (sorted.length - 1))];
  const x = (i: number) => 40 + ((canvas.width - 50) * i) / (values.length - 1);
  const y = (v: number) => 22 + ((canvas.height - 40) * (hi - Math.min(hi, v))) / Math.max(1e-9, hi - lo);
  ctx.strokeStyle = '#c0392b';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
  ctx.fillStyle = '#555';
  ctx.font = '10px sans-serif';
  ctx.fillText(hi.toPrecision(3), 2, 26);
  ctx.fillText(lo.toPrecision(3), 2, canvas.height - 18);
  ctx.fillText(`iteration ${values.length}`, canvas.width - 90, canvas.height - 4);
}

/** The section: controls, three series panels and the ELBO curve. */
export class SeriesDemo {
  readonly state: SeriesDemoState = { iteration: 0, losses: [], elbo: [], running: false, draws: 0 };
  private model: LatentODE;
  private trainer: LatentTrainer;
  private optimizer: Adam;
  private data: LatentData;
  private readonly train: SeriesDataset;
  private readonly test: SeriesDataset;
  private readonly panels: Panel[];
  private readonly curve: HTMLCanvasElement;
  private readonly stats: HTMLElement;
  private readonly start: HTMLButtonElement;
  private readonly pause: HTMLButtonElement;

  constructor(
    private readonly rt: Runtime,
    private readonly onError: (e: unknown) => void,
  ) {
    window.webodeSeriesDemo = this.state;
    this.train = periodicSeries(TRAIN);
    this.test = periodicSeries(TEST);
    const el = <T extends HTMLElement>(id: string) => {
      const e = document.getElementById(id);
      if (!e) throw new Error(`#${id} is missing`);
      return e as T;
    };
    this.panels = [0, 1, 2].map((i) => new Panel(el<HTMLCanvasElement>(`series-panel-${i}`), -0.4, 2.4));
    this.curve = el<HTMLCanvasElement>('series-elbo');
    this.stats = el('series-stats');
    const controls = el('series-controls');
    const button = (text: string, id: string) => {
      const b = document.createElement('button');
      b.textContent = text;
      b.id = id;
      controls.append(b);
      return b;
    };
    this.start = button('Start', 'series-start');
    this.start.className = 'primary';
    this.pause = button('Pause', 'series-pause');
    this.pause.disabled = true;
    this.start.addEventListener('click', () => this.run());
    this.pause.addEventListener('click', () => {
      this.state.running = false;
    });
    ({ model: this.model, optimizer: this.optimizer, trainer: this.trainer, data: this.data } = this.build());
  }

  private build() {
    const model = new LatentODE(this.rt, { obsDim: 1, latentDim: 4, encoderHidden: 16, fieldHidden: [20, 20], obsStd: 0.05, seed: 0 });
    const optimizer = new Adam(model.parameters, { lr: 0.01 });
    const trainer = new LatentTrainer(model, optimizer, { klWarmup: 100, seed: 3 });
    const data = model.upload(this.train.observed);
    return { model, optimizer, trainer, data };
  }

  private async run(): Promise<void> {
    if (this.state.running) return;
    this.state.running = true;
    this.start.disabled = true;
    this.pause.disabled = false;
    try {
      while (this.state.running) {
        await this.trainer.step(this.data);
        this.state.iteration = this.trainer.iteration;
        if (this.state.iteration % DRAW_EVERY === 0) await this.draw();
      }
    } catch (e) {
      this.onError(e);
    } finally {
      this.state.running = false;
      this.start.disabled = false;
      this.pause.disabled = true;
    }
  }

  /** Reads the ELBO history, predicts the test series and redraws everything. */
  async draw(): Promise<void> {
    if (this.trainer.iteration > 0) {
      const h = await this.trainer.readHistory();
      for (let i = 0; i < h.loss.length; i++) {
        this.state.losses.push(h.nll[i] + h.kl[i]);
        this.state.elbo.push(-(h.nll[i] + h.kl[i]));
      }
    }
    const test = this.test.observed;
    const p = await this.model.predict(test, { samples: SAMPLES, times: Array.from({ length: test.batch }, () => DENSE), seed: 1 });
    this.panels.forEach((panel, b) => {
      panel.clear(this.test.split);
      const truth = DENSE.map((t) => this.test.truth(b, t)[0]);
      const mean = DENSE.map((_, i) => p.mean[i * test.batch + b]);
      const sd = DENSE.map((_, i) => p.std[i * test.batch + b]);
      panel.band(DENSE, mean.map((m, i) => m - 2 * sd[i]), mean.map((m, i) => m + 2 * sd[i]), 'rgba(192, 57, 43, 0.18)');
      panel.line(DENSE, truth, '#aaa', 1.5);
      panel.line(DENSE, mean, '#c0392b', 2);
      const obs = observations(test, b);
      panel.dots(obs.t, obs.v, '#2c3e50');
    });
    drawCurve(this.curve, this.state.elbo, 'ELBO per series (higher is better)');
    const last = this.state.elbo.length ? this.state.elbo[this.state.elbo.length - 1] : Number.NaN;
    this.stats.textContent = `iteration ${this.state.iteration} · ELBO ${Number.isFinite(last) ? last.toFixed(1) : '—'} · ${SAMPLES} z0 samples per series`;
    this.state.draws++;
  }
}

/** Series b's observed times and values. */
function observations(s: SeriesBatch, b: number): { t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < s.counts[b]; i++) {
    t.push(s.times[b][i]);
    v.push(s.values[(i * s.batch + b) * s.dim]);
  }
  return { t, v };
}
