/**
 * The A/B page (bench/ab.mjs): loads two builds of webode (bench/.ab/a and
 * bench/.ab/b, each its own dist/webode.js) and times the same solves with
 * each, interleaved round by round (A B, then B A, …) so drift in the
 * machine's speed falls on both alike. Each timed call ends in one host wait.
 */
import { median, timed } from './timing';

type Lib = typeof import('../src/index');

interface Row {
  readonly layers: readonly number[];
  readonly batch: number;
  readonly what: 'forward' | 'backward';
}

/** The table 3a problems: dopri5, rtol 1e-6, atol 1e-7, 11 outputs on [0, 1], L = mean(y²). */
const ROWS: readonly Row[] = [
  { layers: [2, 50, 2], batch: 1_024, what: 'forward' },
  { layers: [2, 50, 2], batch: 1_024, what: 'backward' },
  { layers: [2, 50, 2], batch: 16_384, what: 'forward' },
  { layers: [2, 50, 2], batch: 16_384, what: 'backward' },
  { layers: [4, 64, 64, 4], batch: 1_024, what: 'forward' },
  { layers: [4, 64, 64, 4], batch: 1_024, what: 'backward' },
  { layers: [2, 50, 2], batch: 1, what: 'backward' },
];
const T = Array.from({ length: 11 }, (_, i) => i / 10);
const OPTIONS = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;

/** A problem set up once per library: its runtime, the MLP and the inputs. */
async function setUp(lib: Lib, row: Row) {
  const rt = await lib.createRuntime();
  const f = new lib.MLP(rt, { layers: row.layers, activation: 'tanh', timeInput: false, seed: 7 });
  const D = row.layers[row.layers.length - 1];
  const rand = lib.mulberry32(11);
  const y0 = Float32Array.from({ length: row.batch * D }, () => 2 * rand() - 1);
  const once = async (): Promise<number> => {
    if (row.what === 'forward') {
      const sol = await lib.odeint(f, y0, T, OPTIONS);
      sol.destroy();
      return 0;
    }
    const sol = await lib.odeint(f, y0, T, OPTIONS);
    const y = await sol.y.read();
    const dLdy = y.map((v) => (2 * v) / y.length);
    const ms = await timed(async () => {
      const g = await sol.backward(dLdy);
      await g.params.read();
      g.destroy();
    });
    sol.destroy();
    return ms;
  };
  const time = async () => (row.what === 'forward' ? timed(once) : once());
  return { time, destroy: () => rt.destroy() };
}

async function run(rounds: number): Promise<{ rows: string[][]; notes: string[] }> {
  const libs: Record<'a' | 'b', Lib> = {
    a: await import(/* @vite-ignore */ `${location.origin}/bench/.ab/a/webode.js`),
    b: await import(/* @vite-ignore */ `${location.origin}/bench/.ab/b/webode.js`),
  };
  const rows: string[][] = [];
  for (const row of ROWS) {
    const set = { a: await setUp(libs.a, row), b: await setUp(libs.b, row) };
    const ms: Record<'a' | 'b', number[]> = { a: [], b: [] };
    try {
      // Warm-up: pipelines compile, buffers reach their steady sizes.
      await set.a.time();
      await set.b.time();
      for (let r = 0; r < rounds; r++) {
        const order: ('a' | 'b')[] = r % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
        for (const k of order) ms[k].push(await set[k].time());
      }
    } finally {
      set.a.destroy();
      set.b.destroy();
    }
    const ratios = ms.a.map((x, i) => ms.b[i] / x);
    const a = median(ms.a);
    const b = median(ms.b);
    rows.push([
      `${row.layers.join('→')}`,
      String(row.batch),
      row.what,
      a.toFixed(1),
      b.toFixed(1),
      (b / a).toFixed(3),
      median(ratios).toFixed(3),
      `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
    ]);
    console.info(`ab: ${rows[rows.length - 1].join(' ')}`);
  }
  return {
    rows,
    notes: [
      `dopri5, rtol 1e-6, atol 1e-7, 11 outputs on [0, 1], tanh, L = mean(y²); median of ${rounds} interleaved rounds after a warm-up`,
      'backward: sol.backward(dLdy) and a read of dL/dθ (one more host wait), timed on its own',
      'B/A: ratio of the medians; per-round: the median and the range of B/A within each round (A and B timed back to back)',
    ],
  };
}

declare global {
  interface Window {
    ab: { run: typeof run };
    abReady: boolean;
  }
}
window.ab = { run };
window.abReady = true;
