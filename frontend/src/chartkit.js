/**
 * What every chart shares: a card (title row, plot, legend, note) and uPlot options for a
 * step-indexed chart. Log axes label and grid only powers of ten (uPlot's log scale splits
 * at 1..9 x 10^k, which reads as a grey band on a 150 px chart), and at most about five of
 * them, written short (1e-10), in an axis as wide as its widest label. Legends list every
 * series with its colour and dash and, when the pointer is off the chart, its latest value.
 */

import uPlot from '../vendor/uPlot-1.6.32.esm.js';
import { h } from './fields.js';

export { uPlot };

/** px of plot area; the legend sits below it in reserved space, so nothing jumps. */
export const HEIGHT = 150;

/** A value for an axis or legend: short, exponent form when tiny or huge. */
export const fmtNum = (v) => (v === null || v === undefined ? '–'
  : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1)
    : Number(v.toPrecision(4)).toString());

const decade = (v) => v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
/** Labelled decades: every one while there are few, else every k-th, at most ~5 in all. */
const MAX_DECADES = 5;
const decadesOnly = (_u, splits) => {
  const every = Math.max(1, Math.ceil(splits.filter(decade).length / MAX_DECADES));
  return splits.map((v) => (decade(v) && Math.round(Math.log10(v)) % every === 0 ? v : null));
};
/** A power of ten as people write it: 0.01 .. 1000 in full, else 1e-10. */
export const decadeLabel = (v) => {
  const exp = Math.round(Math.log10(v));
  return exp >= -2 && exp <= 3 ? String(10 ** exp) : `1e${exp}`;
};
/** An axis as wide as its widest label (11 px font: under 7 px a character) plus the ticks. */
const axisSize = (_u, values) => Math.max(40, Math.ceil(
  Math.max(0, ...(values || []).map((v) => (v ? String(v).length : 0))) * 7) + 20);

/** The latest non-null value of series `si` at or before row `idx` (legends show it). */
function latest(u, si, idx) {
  const ys = u.data[si];
  if (!ys) return null;
  for (let i = Math.min(idx ?? ys.length - 1, ys.length - 1); i >= 0; i--) {
    if (ys[i] !== null && ys[i] !== undefined) return ys[i];
  }
  return null;
}

/**
 * A chart card appended to `root`.
 * @returns {{el: HTMLElement, body: HTMLElement, note: HTMLElement, plot: any}}
 */
export function card(root, id, title, ...controls) {
  const body = h('div', { class: 'chart-body' });
  const note = h('p', { class: 'chart-note muted', hidden: true });
  const el = h('section', { class: 'chart', id },
    h('header', {}, h('h3', { text: title }), ...controls), body, note);
  root.append(el);
  return { el, body, note, plot: null };
}

/**
 * uPlot options: x is the training step; `series` are uPlot series options.
 * @param {number} width @param {object[]} series
 * @param {{log?: boolean, percent?: boolean, range?: [number, number], hooks?: object}} [opts]
 *   range: a fixed y range (a fraction is 0..1 even while every value is 0); hooks: uPlot's
 */
export function options(width, series, { log = false, percent = false, range, hooks = {} } = {}) {
  const show = (v) => (percent && v !== null && v !== undefined ? `${(v * 100).toFixed(1)}%`
    : fmtNum(v));
  const y = {
    size: axisSize, font: '11px system-ui',
    values: (_u, ticks) => ticks.map((t) => (t === null ? '' : percent
      ? `${Math.round(t * 100)}%` : log ? decadeLabel(t) : fmtNum(t))),
  };
  if (log) Object.assign(y, { filter: decadesOnly, grid: { filter: decadesOnly },
    ticks: { filter: decadesOnly } });
  return {
    width, height: HEIGHT,
    // Off the chart, the legend reads each series' latest value rather than "–".
    hooks: { ...hooks, setData: [...(hooks.setData || []), showLatest],
      setCursor: [...(hooks.setCursor || []), showLatest] },
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    legend: { live: true },
    scales: { x: { time: false }, y: log ? { distr: 3 } : range ? { auto: false, range } : {} },
    axes: [
      { label: 'step', labelSize: 14, size: 30, font: '11px system-ui',
        labelFont: '11px system-ui',
        values: (_u, ticks) => ticks.map((t) => (t >= 1e4 ? `${t / 1e3}k` : String(t))) },
      y,
    ],
    series: [{ label: 'step', value: (_u, v) => (v === null ? '–' : String(v)) },
      ...series.map((s) => ({ spanGaps: true, width: 1.5, points: { show: false },
        value: (u, v, si, idx) => show(v ?? latest(u, si, idx)), ...s }))],
  };
}

/** With the pointer off the chart, point the legend at the last row. */
function showLatest(u) {
  if (u.cursor.idx === null || u.cursor.idx === undefined) {
    const n = u.data[0]?.length ?? 0;
    if (n) u.setLegend({ idx: n - 1 });
  }
}

/** Legend markers drawn as the series are: its colour, its width and its dash. */
function dashMarkers(c, series) {
  c.body.querySelectorAll('.u-legend .u-series').forEach((row, i) => {
    const s = series[i - 1];
    const marker = row.querySelector('.u-marker');
    if (!s || !marker) return;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('width', '22');
    svg.setAttribute('height', '6');
    svg.setAttribute('aria-hidden', 'true');
    const line = document.createElementNS(svg.namespaceURI, 'line');
    const attrs = { x1: 0, y1: 3, x2: 22, y2: 3, stroke: s.stroke,
      'stroke-width': Math.max(1.5, s.width ?? 1.5) };
    for (const [k, v] of Object.entries(attrs)) line.setAttribute(k, String(v));
    if (s.dash) line.setAttribute('stroke-dasharray', s.dash.map((d) => d * 0.75).join(' '));
    svg.append(line);
    svg.classList.add('u-marker-dash');
    marker.replaceWith(svg);
  });
}

/** (Re)create the chart of a card with these series. */
export function makePlot(c, series, opts) {
  c.plot?.destroy();
  c.body.replaceChildren();
  c.body.hidden = series.length === 0;
  const width = c.body.clientWidth || c.el.clientWidth - 20 || 300;
  c.plot = new /** @type {any} */ (uPlot)(options(width, series, opts),
    [[], ...series.map(() => [])], c.body);
  dashMarkers(c, series);
}

/** Keep every card's chart as wide as its card. */
export function fitPlots(root, cards) {
  const resize = new ResizeObserver(() => {
    for (const c of cards) {
      const width = c.body.clientWidth;
      if (c.plot && width && Math.abs(c.plot.width - width) > 1) {
        c.plot.setSize({ width, height: HEIGHT });
      }
    }
  });
  resize.observe(root);
  return () => resize.disconnect();
}
