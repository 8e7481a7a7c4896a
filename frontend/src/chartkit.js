/**
 * What every chart shares: a card (title row, plot, legend, note) and uPlot options for a
 * step-indexed chart. Log axes label and grid only powers of ten: uPlot's log scale splits
 * at 1..9 x 10^k, which reads as a grey band on a 150 px chart.
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

const decade = (v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
const decadesOnly = (_u, splits) => splits.map((v) => (decade(v) ? v : null));

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
    size: 50, font: '11px system-ui',
    values: (_u, ticks) => ticks.map((t) => (t === null ? '' : percent
      ? `${Math.round(t * 100)}%` : fmtNum(t))),
  };
  if (log) Object.assign(y, { filter: decadesOnly, grid: { filter: decadesOnly },
    ticks: { filter: decadesOnly } });
  return {
    width, height: HEIGHT, hooks,
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
        value: (_u, v) => show(v), ...s }))],
  };
}

/** (Re)create the chart of a card with these series. */
export function makePlot(c, series, opts) {
  c.plot?.destroy();
  c.body.replaceChildren();
  c.body.hidden = series.length === 0;
  c.plot = new /** @type {any} */ (uPlot)(options(c.body.clientWidth || c.el.clientWidth - 20 || 300, series, opts),
    [[], ...series.map(() => [])], c.body);
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
