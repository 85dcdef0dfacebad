/**
 * The shape of what the benchmark page hands back to Node: plain-text tables
 * (cells already formatted, so Node only aligns columns) plus the raw numbers
 * behind them for bench/results.json.
 */

/** Text of every row whose measurement needs a part of webode that does not exist yet. */
export const NOT_YET = 'not yet available';

export interface Table {
  /** Issue numbering: '1' limits, '2' kernels, '3' solves, '4' training, '5' memory, '6' peer (with letters for sub-tables). */
  readonly id: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes: readonly string[];
}

export interface SectionResult {
  readonly tables: readonly Table[];
  /** Raw measurements (milliseconds, counts, GFLOP/s) for results.json. */
  readonly data: unknown;
}

/** A number with `digits` significant digits, thousands unseparated; '—' for non-finite. */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits) return x.toFixed(0);
  if (a < 1e-3) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

/** Milliseconds, microseconds below 1 ms. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return x < 1 ? `${sig(x * 1000)} µs` : `${sig(x)} ms`;
}

/** A ratio as "1.23×". */
export function ratio(x: number): string {
  return Number.isFinite(x) ? `${sig(x)}×` : '—';
}

/** A fraction as a percentage. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${sig(100 * x)}%` : '—';
}

/** Integers with thin grouping (65,536). */
export function int(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—';
}
