/**
 * The two-dimensional toy densities of FFJORD (Grathwohl et al. 2019,
 * lib/toy_data.py of rtqichen/ffjord), generated on the host from webode's
 * seeded generator (mulberry32), so a (name, n, seed) triple always gives the
 * same points. The definitions follow FFJORD's (sklearn's `make_circles` and
 * `make_moons` for `circles` and `moons`); the random streams differ from
 * NumPy's, so the points are other draws from the same distributions.
 */
import { ArgumentError } from '../errors';
import { mulberry32 } from '../field/mlp';

/** The toy datasets, by FFJORD's names. */
export const TOY_DATASETS = ['8gaussians', 'pinwheel', 'checkerboard', '2spirals', 'moons', 'circles', 'rings'] as const;

/** One of `TOY_DATASETS`. */
export type ToyDataset = (typeof TOY_DATASETS)[number];

/** Uniform [0, 1) and standard normal draws (Box–Muller, both values used) from one seeded stream. */
class Draws {
  private readonly uniform: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.uniform = mulberry32(seed);
  }

  rand(): number {
    return this.uniform();
  }

  randn(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.uniform(); // (0, 1]: log(u) is finite
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.uniform() * n));
  }

  /** Shuffles the rows of a [n][2] array in place (Fisher–Yates). */
  shuffleRows(x: Float64Array): void {
    for (let i = x.length / 2 - 1; i > 0; i--) {
      const j = this.int(i + 1);
      for (let c = 0; c < 2; c++) {
        const a = x[2 * i + c];
        x[2 * i + c] = x[2 * j + c];
        x[2 * j + c] = a;
      }
    }
  }
}

/** `count` angles evenly over [0, 2π), as np.linspace(0, 2π, count, endpoint=False). */
function ringAngles(count: number): number[] {
  return Array.from({ length: count }, (_, k) => (2 * Math.PI * k) / count);
}

/** n points [n][2] of the named distribution, as float64. */
function generate(name: ToyDataset, n: number, r: Draws): Float64Array {
  const x = new Float64Array(2 * n);
  switch (name) {
    case '8gaussians': {
      // Eight N(c, 0.5²) blobs on the circle of radius 4, the whole set divided by 1.414.
      const s = Math.SQRT1_2;
      const centers = [[1, 0], [-1, 0], [0, 1], [0, -1], [s, s], [s, -s], [-s, s], [-s, -s]];
      for (let i = 0; i < n; i++) {
        const px = r.randn() * 0.5;
        const py = r.randn() * 0.5;
        const c = centers[r.int(8)];
        x[2 * i] = (px + 4 * c[0]) / 1.414;
        x[2 * i + 1] = (py + 4 * c[1]) / 1.414;
      }
      return x;
    }
    case 'pinwheel': {
      // Five arms: radius ~ N(1, 0.3²), tangential offset ~ N(0, 0.1²), rotated by
      // the arm's angle + 0.25·exp(radius), scaled by 2. n rounds down to a multiple of 5 as in FFJORD; the rest repeat arms.
      for (let i = 0; i < n; i++) {
        const label = Math.floor((5 * i) / n);
        const f0 = r.randn() * 0.3 + 1;
        const f1 = r.randn() * 0.1;
        const a = (2 * Math.PI * label) / 5 + 0.25 * Math.exp(f0);
        const c = Math.cos(a);
        const sn = Math.sin(a);
        // features · [[cos, −sin], [sin, cos]] (a row vector times the rotation)
        x[2 * i] = 2 * (f0 * c + f1 * sn);
        x[2 * i + 1] = 2 * (-f0 * sn + f1 * c);
      }
      r.shuffleRows(x);
      return x;
    }
    case 'checkerboard': {
      // x1 ~ U[−2, 2); x2 in [0, 1) or [−2, −1), shifted by 1 on odd columns; scaled by 2:
      // the squares of side 2 on [−4, 4]² whose column + row index is even.
      for (let i = 0; i < n; i++) {
        const x1 = r.rand() * 4 - 2;
        const x2 = r.rand() - r.int(2) * 2 + (((Math.floor(x1) % 2) + 2) % 2);
        x[2 * i] = 2 * x1;
        x[2 * i + 1] = 2 * x2;
      }
      return x;
    }
    case '2spirals': {
      // Angle θ = √U · 3π (540°), arm point (−cos θ·θ, sin θ·θ) + U[0, 0.5)², the
      // second half mirrored through the origin; /3, plus N(0, 0.1²) noise.
      const h = Math.floor(n / 2);
      for (let i = 0; i < h; i++) {
        const t = Math.sqrt(r.rand()) * 3 * Math.PI;
        const dx = -Math.cos(t) * t + r.rand() * 0.5;
        const dy = Math.sin(t) * t + r.rand() * 0.5;
        x[2 * i] = dx / 3;
        x[2 * i + 1] = dy / 3;
        x[2 * (h + i)] = -dx / 3;
        x[2 * (h + i) + 1] = -dy / 3;
      }
      for (let i = 2 * h; i < n; i++) {
        // an odd n: one more point on the first arm
        const t = Math.sqrt(r.rand()) * 3 * Math.PI;
        x[2 * i] = (-Math.cos(t) * t + r.rand() * 0.5) / 3;
        x[2 * i + 1] = (Math.sin(t) * t + r.rand() * 0.5) / 3;
      }
      for (let k = 0; k < 2 * n; k++) x[k] += r.randn() * 0.1;
      return x;
    }
    case 'moons': {
      // sklearn make_moons(noise=0.1): upper half circle (cos, sin) over [0, π] and the
      // lower one (1 − cos, 1 − sin − 0.5), N(0, 0.1²) noise, shuffled; ·2 + (−1, −0.2).
      const nOut = Math.floor(n / 2);
      const nIn = n - nOut;
      const arc = (k: number, m: number) => (m > 1 ? (Math.PI * k) / (m - 1) : 0);
      for (let k = 0; k < nOut; k++) {
        x[2 * k] = Math.cos(arc(k, nOut));
        x[2 * k + 1] = Math.sin(arc(k, nOut));
      }
      for (let k = 0; k < nIn; k++) {
        x[2 * (nOut + k)] = 1 - Math.cos(arc(k, nIn));
        x[2 * (nOut + k) + 1] = 1 - Math.sin(arc(k, nIn)) - 0.5;
      }
      r.shuffleRows(x);
      for (let i = 0; i < n; i++) {
        x[2 * i] = (x[2 * i] + r.randn() * 0.1) * 2 - 1;
        x[2 * i + 1] = (x[2 * i + 1] + r.randn() * 0.1) * 2 - 0.2;
      }
      return x;
    }
    case 'circles': {
      // sklearn make_circles(factor=0.5, noise=0.08): radii 1 and 0.5, angles evenly
      // over [0, 2π), N(0, 0.08²) noise, shuffled; ·3.
      const nOut = Math.floor(n / 2);
      const nIn = n - nOut;
      let i = 0;
      for (const [m, radius] of [[nOut, 1], [nIn, 0.5]] as const) {
        for (const a of ringAngles(m)) {
          x[2 * i] = radius * Math.cos(a);
          x[2 * i + 1] = radius * Math.sin(a);
          i++;
        }
      }
      r.shuffleRows(x);
      for (let k = 0; k < 2 * n; k++) x[k] = (x[k] + r.randn() * 0.08) * 3;
      return x;
    }
    case 'rings': {
      // Four rings of radii 3, 2.25, 1.5, 0.75 (n/4 points each, the innermost takes the rest),
      // angles evenly over [0, 2π), shuffled, plus N(0, 0.08²) noise.
      const q = Math.floor(n / 4);
      let i = 0;
      for (const [m, radius] of [[q, 1], [q, 0.75], [q, 0.5], [n - 3 * q, 0.25]] as const) {
        for (const a of ringAngles(m)) {
          x[2 * i] = 3 * radius * Math.cos(a);
          x[2 * i + 1] = 3 * radius * Math.sin(a);
          i++;
        }
      }
      r.shuffleRows(x);
      for (let k = 0; k < 2 * n; k++) x[k] += r.randn() * 0.08;
      return x;
    }
  }
}

/**
 * `n` points of one of FFJORD's toy densities, [n][2] row-major float32, the
 * same for the same (name, n, seed).
 */
export function toyData(name: ToyDataset, n: number, seed = 0): Float32Array {
  if (!(TOY_DATASETS as readonly string[]).includes(name)) {
    throw new ArgumentError('name', name, `one of ${TOY_DATASETS.join(', ')}`);
  }
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError('n', n, 'an integer ≥ 1');
  if (!Number.isInteger(seed) || seed < 0) throw new ArgumentError('seed', seed, 'an integer ≥ 0');
  return Float32Array.from(generate(name, n, new Draws(seed)));
}
