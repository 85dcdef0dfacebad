/**
 * Canvas drawing for the demo: trajectories, a vector field (arrows),
 * decision regions (an image of class probabilities) and the flow of points,
 * in a square view [−lim, lim]²; and loss / NFE line charts with uPlot.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatTick } from './format';

/** A square canvas mapped to [−lim, lim]², with the drawing context. */
export class View {
  readonly canvas: HTMLCanvasElement;
  readonly ctx: CanvasRenderingContext2D;
  readonly lim: number;

  constructor(canvas: HTMLCanvasElement, lim: number) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    this.canvas = canvas;
    this.ctx = ctx;
    this.lim = lim;
  }

  get size(): number {
    return this.canvas.width;
  }

  px(x: number): number {
    return ((x + this.lim) / (2 * this.lim)) * this.size;
  }

  py(y: number): number {
    return ((this.lim - y) / (2 * this.lim)) * this.size;
  }

  clear(color = '#ffffff'): void {
    this.ctx.fillStyle = color;
    this.ctx.fillRect(0, 0, this.size, this.size);
    this.ctx.strokeStyle = '#e3e3e3';
    this.ctx.lineWidth = 1;
    this.ctx.beginPath();
    this.ctx.moveTo(this.px(-this.lim), this.py(0));
    this.ctx.lineTo(this.px(this.lim), this.py(0));
    this.ctx.moveTo(this.px(0), this.py(-this.lim));
    this.ctx.lineTo(this.px(0), this.py(this.lim));
    this.ctx.stroke();
  }

  /** A polyline through points (x, y) taken every `stride` values from `dim`-wide rows. */
  line(values: ArrayLike<number>, color: string, width = 2, dim = 2, dash: number[] = []): void {
    const n = Math.floor(values.length / dim);
    const ctx = this.ctx;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const x = this.px(values[i * dim]);
      const y = this.py(values[i * dim + 1]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
    ctx.setLineDash([]);
  }

  dot(x: number, y: number, color: string, r = 3): void {
    this.ctx.fillStyle = color;
    this.ctx.beginPath();
    this.ctx.arc(this.px(x), this.py(y), r, 0, 2 * Math.PI);
    this.ctx.fill();
  }

  /**
   * Arrows of a vector field at `points` (x, y pairs) with `values` (dx, dy
   * pairs), lengths scaled so the longest spans `cell` pixels; colour by speed.
   */
  field(points: ArrayLike<number>, values: ArrayLike<number>, cell: number): void {
    const n = points.length / 2;
    let vmax = 1e-12;
    for (let i = 0; i < n; i++) vmax = Math.max(vmax, Math.hypot(values[2 * i], values[2 * i + 1]));
    const ctx = this.ctx;
    ctx.lineWidth = 1.2;
    for (let i = 0; i < n; i++) {
      const vx = values[2 * i];
      const vy = values[2 * i + 1];
      const speed = Math.hypot(vx, vy);
      // Arrow length grows like sqrt(speed): slow regions stay visible next to fast ones.
      const len = cell * Math.sqrt(speed / vmax);
      if (!(len > 0.5)) continue;
      const x0 = this.px(points[2 * i]);
      const y0 = this.py(points[2 * i + 1]);
      const ux = vx / speed;
      const uy = -vy / speed;
      const x1 = x0 + ux * len;
      const y1 = y0 + uy * len;
      const shade = Math.round(200 - 150 * Math.sqrt(speed / vmax));
      ctx.strokeStyle = `rgb(${shade}, ${shade}, 255)`;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.lineTo(x1 - 3 * ux + 2 * uy, y1 - 3 * uy - 2 * ux);
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - 3 * ux - 2 * uy, y1 - 3 * uy + 2 * ux);
      ctx.stroke();
    }
  }

  /** Non-negative values on an n×n grid (row 0 at the top) as a white-to-dark-blue image, scaled by their maximum. */
  image(values: ArrayLike<number>, n: number): void {
    let max = 0;
    for (let k = 0; k < n * n; k++) if (Number.isFinite(values[k])) max = Math.max(max, values[k]);
    const img = this.ctx.createImageData(n, n);
    for (let k = 0; k < n * n; k++) {
      const v = max > 0 && Number.isFinite(values[k]) ? Math.sqrt(values[k] / max) : 0; // sqrt: faint mass stays visible
      img.data[4 * k] = Math.round(255 - 225 * v);
      img.data[4 * k + 1] = Math.round(255 - 180 * v);
      img.data[4 * k + 2] = Math.round(255 - 60 * v);
      img.data[4 * k + 3] = 255;
    }
    this.blit(img, n, false);
  }

  /** Draws an n×n image over the whole canvas (smoothed or as blocks). */
  private blit(img: ImageData, n: number, smooth: boolean): void {
    const tmp = document.createElement('canvas');
    tmp.width = n;
    tmp.height = n;
    const tctx = tmp.getContext('2d');
    if (!tctx) return;
    tctx.putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = smooth;
    this.ctx.drawImage(tmp, 0, 0, this.size, this.size);
  }

  /** Class-1 probabilities on an n×n grid (row 0 at the top) as a blue–red image. */
  regions(p1: ArrayLike<number>, n: number): void {
    const img = this.ctx.createImageData(n, n);
    for (let k = 0; k < n * n; k++) {
      const p = p1[k];
      // Blue (label −1 / class 0) to red (label +1 / class 1) through white.
      const r = p > 0.5 ? 255 : Math.round(255 * 2 * p);
      const b = p < 0.5 ? 255 : Math.round(255 * 2 * (1 - p));
      const g = Math.round(255 * (1 - Math.abs(2 * p - 1)));
      img.data[4 * k] = Math.round(0.55 * r + 0.45 * 255);
      img.data[4 * k + 1] = Math.round(0.55 * g + 0.45 * 255);
      img.data[4 * k + 2] = Math.round(0.55 * b + 0.45 * 255);
      img.data[4 * k + 3] = 255;
    }
    this.blit(img, n, true);
  }
}

/** Colours of the two classes (−1 inside, +1 outside). */
export const CLASS_COLORS = ['#1f5fbf', '#c8321e'] as const;

/** A uPlot line chart of one or more series against the iteration, log-scaled y when asked. */
export class LineChart {
  private readonly plot: uPlot;
  private readonly xs: number[] = [];
  private readonly ys: number[][];

  constructor(root: HTMLElement, title: string, series: { label: string; color: string }[], log: boolean, width = 420, height = 200) {
    this.ys = series.map(() => []);
    this.plot = new uPlot(
      {
        title,
        width,
        height,
        scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
        axes: [{ label: 'iteration' }, { values: (_u, splits) => splits.map(formatTick), size: 56 }],
        series: [{ label: 'iteration' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: true, points: { show: false } }))],
        legend: { show: true },
        cursor: { show: true },
      },
      [[], ...series.map(() => [])],
      root,
    );
  }

  /** Appends one x value with a y value per series (null for a gap). */
  push(x: number, ys: (number | null)[]): void {
    this.xs.push(x);
    ys.forEach((y, i) => this.ys[i].push(y !== null && Number.isFinite(y) && y > 0 ? y : Number.NaN));
  }

  /** Redraws with everything pushed so far. */
  draw(): void {
    this.plot.setData([this.xs, ...this.ys.map((s) => s.map((v) => (Number.isNaN(v) ? null : v)))]);
  }

  clear(): void {
    this.xs.length = 0;
    for (const s of this.ys) s.length = 0;
    this.draw();
  }

  /** The number of points drawn. */
  get length(): number {
    return this.xs.length;
  }
}
