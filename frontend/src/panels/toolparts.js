/**
 * Two of the lesson tools (see tools.js): the activation gallery and the bias/variance
 * diagnosis. Both ask the server rather than compute here, so the page shows exactly what the
 * engine builds (the activation modules) and one rule (torchplay.diagnosis) decides verdicts.
 */

import { h } from '../fields.js';
import { BLUE, ORANGE, css } from '../colors.js';
import { fmtNum, uPlot } from '../chartkit.js';
import { pct } from '../format.js';
import { blockLabel } from './stack.js';

/** @typedef {import('../types.js').Store} Store */

/** Height of a gallery chart (px, axes included); its width is its grid cell's, 150 or more. */
const CHART_HEIGHT = 100;
/** At most this often (ms) the diagnosis is asked again while runs train. */
const ASK_EVERY = 500;

/** GET or POST JSON; a refusal rejects with the server's own message. */
async function json(url, body) {
  const response = await fetch(url, body === undefined ? {} : { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  // Our errors carry `message`; FastAPI's validation errors a `detail` list.
  throw new Error(answer?.message ?? answer?.detail?.[0]?.msg ??
    `the server answered ${response.status}`);
}

/** A line sample for the legend: solid or dashed, in the series' colour. */
const key = (colour, dashed) => h('i', { class: `tool-key${dashed ? ' dashed' : ''}`,
  style: `border-color: ${css(colour)}` });

/** uPlot options of one gallery chart: f solid blue, f′ dashed orange, no legend or cursor
 * (the shared legend line says which is which; 10 live cursors would only cost frames). */
function smallChart(width) {
  const axis = { font: '10px system-ui', gap: 2, ticks: { size: 3 } };
  return {
    width, height: CHART_HEIGHT, padding: [6, 8, 0, 0],
    legend: { show: false }, cursor: { show: false }, select: { show: false },
    scales: { x: { time: false, range: [-4, 4] } },
    axes: [{ ...axis, size: 18, splits: () => [-4, -2, 0, 2, 4] },
      { ...axis, size: 28, values: (_u, ticks) => ticks.map(fmtNum) }],
    series: [{}, { stroke: css(BLUE), width: 1.5, points: { show: false } },
      { stroke: css(ORANGE), width: 1.5, dash: [4, 3], points: { show: false } }],
  };
}

/**
 * Every activation the spec offers, f and f′ on [-4, 4], one small chart each.
 * @param {HTMLElement} root @param {Store} _store
 */
export function activationCurves(root, _store) {
  const slope = h('input', { id: 'activation-slope', type: 'number', min: 0, max: 1,
    step: 0.01, value: '0.01', inputmode: 'decimal' });
  const failure = h('span', { class: 'field-error', role: 'alert' });
  const grid = h('div', { class: 'tool-gallery' });
  const slopeLabel = h('label', { for: slope.id, title: 'LeakyReLU’s slope for x < 0, and ' +
    'PReLU’s initial one' }, 'LeakyReLU/PReLU slope α ', slope);
  root.append(h('p', { class: 'tool-legend' }, h('span', {}, key(BLUE, false), ' f solid, ',
    key(ORANGE, true), ' f′ dashed'), slopeLabel, failure), grid);
  /** @type {Map<string, {card: HTMLElement, plot: any}>} */
  const charts = new Map();
  let alive = true;
  let asked = 0;

  async function load() {
    const mine = ++asked; // only the latest answer is drawn
    try {
      const { xs, curves } = await json(`/api/activations?slope=${slope.valueAsNumber}`);
      if (alive && mine === asked) draw(xs, curves);
    } catch (err) {
      if (alive) failure.textContent = `The curves could not be loaded: ${err.message}`;
    }
  }

  function draw(xs, curves) {
    failure.textContent = '';
    for (const [name, { f, df }] of Object.entries(curves)) {
      let chart = charts.get(name);
      if (!chart) {
        const body = h('div', { class: 'tool-plot' });
        const card = h('figure', { class: 'tool-fn', 'data-fn': name },
          h('figcaption', { text: blockLabel({ type: 'activation', fn: name }) }), body);
        grid.append(card);
        chart = { card, plot: new /** @type {any} */ (uPlot)(smallChart(body.clientWidth || 150),
          [xs, f, df], body) };
        charts.set(name, chart);
      } else chart.plot.setData([xs, f, df]);
      chart.card.dataset.points = String(xs.length);
    }
  }

  // Each chart fills its grid cell: as many columns as the lesson card has room for.
  const resize = new ResizeObserver(() => charts.forEach(({ card, plot }) => {
    const width = card.querySelector('.tool-plot')?.clientWidth;
    if (width && Math.abs(plot.width - width) > 1) plot.setSize({ width, height: CHART_HEIGHT });
  }));
  resize.observe(grid);

  slope.addEventListener('change', () => {
    const value = slope.valueAsNumber;
    if (!(value >= 0 && value <= 1)) {
      failure.textContent = 'α must be between 0 and 1';
      return;
    }
    load();
  });
  load();
  return {
    update() {},
    destroy() {
      alive = false;
      resize.disconnect();
      charts.forEach(({ plot }) => plot.destroy());
    },
  };
}

/**
 * Bias or variance, per run: train and test error (1 − accuracy, or 1 − R²) sent to the
 * server whenever a run's epoch moves, at most every ASK_EVERY ms.
 * @param {HTMLElement} root @param {Store} store
 */
export function diagnosis(root, store) {
  const base = h('input', { id: 'diagnosis-base', type: 'number', min: 0, max: 100, step: 0.5,
    value: '0', inputmode: 'decimal' });
  const note = h('p', { id: 'diagnosis-note', class: 'muted',
    text: 'Train a few epochs to see the diagnosis.' });
  const failure = h('p', { class: 'field-error', role: 'alert' });
  const body = h('tbody');
  root.append(h('div', { class: 'tool-actions' }, h('label', { for: base.id,
    title: 'The best error any model could reach on this data (0 for separable classes)' },
  'Base (Bayes or human) error, %'), base), note, failure,
  h('table', { class: 'tool-table diagnosis' }, h('thead', {}, h('tr', {},
    ...['Run', 'Train error', 'Test error', 'Verdict (and why)'].map((text) =>
      h('th', { scope: 'col', text })))), body));

  /** One per run: its cells, the epoch last asked about, the number of the answer shown.
   * @type {{tr: HTMLElement, cells: Record<string, HTMLElement>, asked: number|null,
   *   shown: number}[]} */
  let rows = [];
  /** The runs the rows are for: a new array means new runs (a `ready`), rows start afresh. */
  let rowsFor = null;
  let lastAsk = -Infinity;
  let timer = 0;
  let serial = 0; // numbers each question, so a late answer never replaces a newer one

  function build(runs) {
    rows = runs.map((run) => {
      const cells = { when: h('span', { class: 'muted tool-when' }),
        train: h('td', { class: 'num train-error' }), test: h('td', { class: 'num test-error' }),
        verdict: h('strong', { class: 'verdict' }), why: h('p', { class: 'explanation muted' }) };
      // The explanation sits under its verdict: a fifth column would be too narrow to read.
      const tr = h('tr', {}, h('th', { scope: 'row' }, run.label, cells.when), cells.train,
        cells.test, h('td', {}, cells.verdict, cells.why));
      const row = { tr, cells, asked: null, shown: 0 };
      clear(row);
      return row;
    });
    body.replaceChildren(...rows.map((row) => row.tr));
  }

  /** Back to "not diagnosed" (new runs, or a run reset to epoch 0). */
  function clear(row) {
    Object.assign(row, { asked: null, shown: ++serial });
    for (const cell of Object.values(row.cells)) cell.textContent = '';
    row.cells.train.textContent = row.cells.test.textContent = '–';
    delete row.tr.dataset.epoch;
    delete row.cells.verdict.dataset.verdict;
  }

  const errorOf = (metric) => Math.min(1, Math.max(0, 1 - metric));

  /** Ask about every run whose epoch moved since it was last asked, if the pace allows. */
  function pump() {
    timer = 0;
    const frames = (store.state.runs ?? []).map((run) => run.frame);
    const due = rows.flatMap((row, k) => (frames[k]?.epoch >= 1 &&
      frames[k].epoch !== row.asked ? [k] : []));
    if (!due.length) return;
    const wait = lastAsk + ASK_EVERY - performance.now();
    if (wait > 0) {
      timer = window.setTimeout(pump, wait);
      return;
    }
    lastAsk = performance.now();
    const percent = base.valueAsNumber;
    const baseError = Number.isFinite(percent) ? Math.min(1, Math.max(0, percent / 100)) : 0;
    for (const k of due) ask(rows[k], frames[k], baseError);
  }

  async function ask(row, frame, baseError) {
    row.asked = frame.epoch;
    const { cells } = row;
    if (frame.train_metric === null || frame.test_metric === null) {
      cells.verdict.textContent = 'no finite metric (the run diverged)';
      return;
    }
    const errors = { train_error: errorOf(frame.train_metric),
      test_error: errorOf(frame.test_metric), base_error: baseError };
    const mine = ++serial;
    try {
      const answer = await json('/api/diagnosis', errors);
      if (mine < row.shown) return; // a newer answer (or a reset) came first
      row.shown = mine;
      failure.textContent = '';
      cells.when.textContent = `at epoch ${frame.epoch}`; // which moment it is about
      row.tr.dataset.epoch = String(frame.epoch);
      cells.train.textContent = pct(errors.train_error);
      cells.test.textContent = pct(errors.test_error);
      cells.verdict.textContent = answer.verdict;
      cells.verdict.dataset.verdict = answer.verdict;
      cells.why.textContent = answer.explanation;
      note.hidden = true;
    } catch (err) {
      failure.textContent = `No diagnosis: ${/** @type {Error} */ (err).message}`;
    }
  }

  base.addEventListener('input', () => {
    rows.forEach((row) => { row.asked = null; }); // same epochs, a new question
    if (!timer) pump();
  });

  return {
    update(state) {
      const runs = state.runs ?? [];
      if (runs !== rowsFor) {
        rowsFor = runs;
        build(runs);
      }
      runs.forEach((run, k) => {
        if (run.frame && rows[k].asked !== null && run.frame.epoch < rows[k].asked) clear(rows[k]);
      });
      note.hidden = rows.some((row) => row.tr.dataset.epoch);
      if (!timer) pump();
    },
    destroy() {
      window.clearTimeout(timer);
      rows = [];
    },
  };
}
