import { it } from 'vitest';
import { solveAccurate, solveFixed } from '../reference/solve';
import { TABLEAUX } from '../../src/host/tableau';
import { makeProblem } from '../gpu/problems';

it('convergence', () => {
  const B = 16;
  for (const scale of [1, 1.5, 2]) for (const T of [2, 4, 8]) {
  const p = makeProblem({ layers: [2, 50, 2], B, paramScale: scale });
  const t = [0, T];
  const y0 = (b: number) => Array.from(p.y0.subarray(2*b, 2*b+2));
  const truth = Array.from({length: B}, (_, b) => solveAccurate(p.rhs, y0(b), t));
  const steps: Record<string, number[]> = { euler: [0.1, 0.05, 0.025], midpoint: [0.2, 0.1, 0.05], rk4: [0.5, 0.25, 0.125], rk38: [0.5, 0.25, 0.125] };
  const out: string[] = [];
  for (const [m, hs] of Object.entries(steps)) {
    const errs = hs.map((hh) => {
      let e = 0;
      for (let b = 0; b < B; b++) { const r = solveFixed(p.rhs, TABLEAUX[m as 'rk4'], y0(b), t, hh); e += (r[1][0]-truth[b][1][0])**2 + (r[1][1]-truth[b][1][1])**2; }
      return Math.sqrt(e / (2*B));
    });
    out.push(`${m} ${errs.map((e) => e.toExponential(1)).join(' ')} p ${errs.slice(1).map((e, i) => Math.log2(errs[i] / e).toFixed(2)).join(' ')}`);
  }
  console.log(scale, T, '|', out.join(' | '));
  }
});
