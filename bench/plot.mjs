/**
 * The work-precision figure of table 7 (bench/precision.ts) as a standalone
 * SVG, drawn here without dependencies: one column per problem; the top row
 * plots error against wall time, the bottom row error against mean function
 * evaluations per sample, both log-log. One line per method × controller:
 * colour is the method, solid/circles the PI controller, dashed/squares the
 * I controller; each point is one tolerance (rtol 1e-3 at the cheap end).
 * torchdiffeq's odeint on the same problems (float32, batch-shared step;
 * table 7c), when the peer answered, is a dotted line with triangles in the
 * method's colour: its x in the bottom row is its calls of f, which are also
 * its evaluations per sample.
 */

const COLORS = { dopri5: '#1f5fbf', tsit5: '#d9731a' };
const FALLBACK_COLORS = ['#2a9d4b', '#8e44ad', '#c0392b'];
const DASH = { PI: '', I: '6 4', torchdiffeq: '1.5 3' };
const MARKER = { PI: 'circle', I: 'square', torchdiffeq: 'triangle' };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x) => Number(x.toFixed(2)).toString();

/** Decades covering [lo, hi] (log10 exponents), padded to at least one decade. */
function decadeRange(values) {
  const logs = values.filter((v) => v > 0 && Number.isFinite(v)).map(Math.log10);
  let lo = Math.floor(Math.min(...logs));
  let hi = Math.ceil(Math.max(...logs));
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

/** Tick label for 10^k. */
function decadeLabel(k) {
  if (k >= 0 && k <= 4) return String(10 ** k);
  return `1e${k}`;
}

/** A point marker: filled circle, open square or open triangle, centred at (cx, cy). */
function marker(kind, cx, cy, color) {
  if (kind === 'square') return `<rect x="${fmt(cx - 3.5)}" y="${fmt(cy - 3.5)}" width="7" height="7" fill="white" stroke="${color}" stroke-width="1.5"/>`;
  if (kind === 'triangle') {
    const pts = [[cx, cy - 4.5], [cx - 4, cy + 3], [cx + 4, cy + 3]].map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ');
    return `<polygon points="${pts}" fill="white" stroke="${color}" stroke-width="1.5"/>`;
  }
  return `<circle cx="${fmt(cx)}" cy="${fmt(cy)}" r="3.5" fill="${color}" stroke="${color}"/>`;
}

/**
 * One log-log panel at (x0, y0) of size w × h. `series` holds
 * { color, dash, marker, points: [{ x, y }] }.
 */
function panel({ x0, y0, w, h, title, xLabel, yLabel, series }) {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const [xlo, xhi] = decadeRange(xs);
  const [ylo, yhi] = decadeRange(ys);
  const px = (v) => x0 + ((Math.log10(v) - xlo) / (xhi - xlo)) * w;
  const py = (v) => y0 + h - ((Math.log10(v) - ylo) / (yhi - ylo)) * h;
  const out = [];
  out.push(`<text x="${fmt(x0 + w / 2)}" y="${fmt(y0 - 10)}" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`);
  // Grid: decades solid, 2…9 faint.
  for (let k = xlo; k <= xhi; k++) {
    const x = fmt(x0 + ((k - xlo) / (xhi - xlo)) * w);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + h}" stroke="#ccc"/>`);
    out.push(`<text x="${x}" y="${y0 + h + 15}" text-anchor="middle" font-size="11">${decadeLabel(k)}</text>`);
    if (k < xhi) {
      for (let m = 2; m < 10; m++) {
        const xm = fmt(x0 + ((k + Math.log10(m) - xlo) / (xhi - xlo)) * w);
        out.push(`<line x1="${xm}" y1="${y0}" x2="${xm}" y2="${y0 + h}" stroke="#eee"/>`);
      }
    }
  }
  for (let k = ylo; k <= yhi; k++) {
    const y = fmt(y0 + h - ((k - ylo) / (yhi - ylo)) * h);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#ccc"/>`);
    out.push(`<text x="${x0 - 5}" y="${fmt(Number(y) + 4)}" text-anchor="end" font-size="11">${decadeLabel(k)}</text>`);
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${fmt(x0 + w / 2)}" y="${y0 + h + 32}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(
    `<text transform="translate(${fmt(x0 - 42)} ${fmt(y0 + h / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`,
  );
  for (const s of series) {
    const pts = s.points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y));
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${fmt(px(p.x))} ${fmt(py(p.y))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of pts) {
      const cx = px(p.x);
      const cy = py(p.y);
      out.push(marker(s.marker, cx, cy, s.color));
    }
  }
  return out.join('\n');
}

/**
 * The figure for table 7's data ({ problems: [{ name, T, curves: [{ method,
 * controller, points: [{ rtol, error, meanNfe, wall: { median } }] }] }] }),
 * with a subtitle line (date, adapter).
 */
export function workPrecisionSvg(data, subtitle = '') {
  const problems = data.problems ?? [];
  const methods = [...new Set(problems.flatMap((p) => p.curves.map((c) => c.method)))];
  const color = (m) => COLORS[m] ?? FALLBACK_COLORS[methods.indexOf(m) % FALLBACK_COLORS.length];
  const w = 300;
  const h = 230;
  const left = 70;
  const gap = 80;
  const top = 95;
  const rowGap = 85;
  const width = left + problems.length * (w + gap) - gap + 30;
  const height = top + 2 * h + rowGap + 60;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${esc(`Work-precision: PI vs I step-size controller (per-sample step control, B = ${data.batch}${problems.some((p) => p.torchdiffeq?.length) ? '; torchdiffeq, batch-shared step' : ''}, rtol ${data.tolerances?.map((t) => t.toExponential(0)).join(', ')}; atol = rtol/10)`)}</text>`,
  );
  if (subtitle) parts.push(`<text x="${left}" y="42" font-size="11" fill="#555">${esc(subtitle)}</text>`);
  // Legend.
  const peerMethods = new Set(problems.flatMap((p) => (p.torchdiffeq ?? []).filter((c) => c.dtype === 'float32').map((c) => c.method)));
  let lx = left;
  for (const m of methods) {
    const kinds = ['PI', 'I', ...(peerMethods.has(m) ? ['torchdiffeq'] : [])];
    for (const c of kinds) {
      const label = c === 'torchdiffeq' ? `${m} torchdiffeq (float32)` : `${m} ${c}${c === 'PI' ? ' (default)' : ''}`;
      parts.push(
        `<line x1="${lx}" y1="60" x2="${lx + 30}" y2="60" stroke="${color(m)}" stroke-width="1.8"${DASH[c] ? ` stroke-dasharray="${DASH[c]}"` : ''}/>`,
      );
      parts.push(marker(MARKER[c], lx + 15, 60, color(m)));
      parts.push(`<text x="${lx + 36}" y="64" font-size="12">${esc(label)}</text>`);
      lx += 50 + label.length * 6.3;
    }
  }
  problems.forEach((p, j) => {
    const x0 = left + j * (w + gap);
    // x(point, isPeer): webode's points and torchdiffeq's differ in their cost fields.
    const seriesOf = (x) => [
      ...p.curves.map((c) => ({
        color: color(c.method),
        dash: DASH[c.controller] ?? '',
        marker: MARKER[c.controller] ?? 'circle',
        points: c.points.map((pt) => ({ x: x(pt, false), y: pt.error })),
      })),
      ...(p.torchdiffeq ?? [])
        .filter((c) => c.dtype === 'float32')
        .map((c) => ({
          color: color(c.method),
          dash: DASH.torchdiffeq,
          marker: MARKER.torchdiffeq,
          points: c.points.map((pt) => ({ x: x(pt, true), y: pt.error })),
        })),
    ];
    parts.push(
      panel({
        x0,
        y0: top,
        w,
        h,
        title: `${p.name}, t ∈ [0, ${p.T}]`,
        xLabel: 'wall time per solve (ms, median)',
        yLabel: 'relative error at T',
        series: seriesOf((pt) => pt.wall.median),
      }),
    );
    parts.push(
      panel({
        x0,
        y0: top + h + rowGap,
        w,
        h,
        title: p.name,
        xLabel: 'function evaluations per sample (webode: mean)',
        yLabel: 'relative error at T',
        series: seriesOf((pt, peer) => (peer ? pt.nfe : pt.meanNfe)),
      }),
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
