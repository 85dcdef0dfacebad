/**
 * Number formatting for the demo's charts, without a DOM (unit-tested in
 * test/unit/demo-format.test.ts).
 */

/**
 * The label of an axis tick: at most 3 significant digits, no trailing
 * zeros; plain for 0.01 ≤ |v| < 1e5 (`0.05`, `0.3`, `2`, `1500`), otherwise
 * as a power of ten (`1e-3`, `3e-4`, `2.5e-7`, `1e+6`). uPlot's default
 * labels print 0 for every tick of a log scale below 0.01.
 */
export function formatTick(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  if (a >= 0.01 && a < 1e5) return String(Number(v.toPrecision(3)));
  const [mantissa, exponent] = v.toExponential(2).split('e');
  return `${String(Number(mantissa))}e${exponent}`;
}
