/**
 * The other charts: accuracy (or R²) and learning rate per epoch, and, per layer over time,
 * activation variance, weight-gradient norm (log scales) and dead-unit fraction, one line
 * per layer named in the legend. Hovering a chart shows its values at that step.
 *
 * Runs being compared (runs.js) are overlaid: the same colours (per layer, or train/test) in
 * each run's own dash. Each run's columns read only what is new since the last draw.
 *
 * The activation-variance chart's header shows, for each dropout layer (p > 0) of the runs it
 * draws, that layer's variance over its input's averaged over the steps measured so far: one
 * step's ratio is one mini-batch and one mask, too noisy to read (lesson 8 quotes the mean).
 */

import { BLUE, ORANGE, css, seriesStyle } from '../colors.js';
import { Columns, align, positive } from '../chartdata.js';
import { card, fitPlots, makePlot, uPlot } from '../chartkit.js';
import { h } from '../fields.js';
import { MAX_LAYER_OVERLAYS, overlays, runDash, shownLabel, shownStyle } from '../runs.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const TRACE = [['actVar', 'act_var'], ['gradNorm', 'grad_norm_weight'], ['dead', 'dead_fraction']];
const LAYER_CHARTS = TRACE.map(([key]) => key);

/** Which layers each per-layer chart draws, and their legend names, for one run.
 * @param {any} run @param {string[]} reluFamily activations whose dead units are counted */
function layerPicks(run, reluFamily) {
  const { summary } = run;
  const last = summary.layers.length - 1;
  const names = summary.layers.map((l, i) => `${i}: ${l.name}${i === last ? ' (out)' : ''}`);
  const layers = run.spec.network.layers;
  return {
    names,
    actVar: summary.layers.map((_l, i) => i),
    gradNorm: summary.layers.flatMap((l, i) => (l.weight_shape ? [i] : [])),
    dead: layers.flatMap((l, i) => (l.type === 'activation' && reluFamily.includes(l.fn)
      ? [i] : [])),
  };
}

/**
 * Each dropout layer's (p > 0) activation variance over the variance of the layer before it,
 * averaged over the steps in the trace: [{layer, p, ratio, steps}].
 * @param {AppState['run']} run @param {import('../history.js').LayerTrace} trace
 */
export function dropoutRatios(run, trace) {
  const variance = trace.columns.act_var || [];
  return run.spec.network.layers.flatMap((layer, i) => {
    if (layer.type !== 'dropout' || !(layer.p > 0) || i === 0) return [];
    const out = variance[i] || [];
    const input = variance[i - 1] || [];
    let sum = 0;
    let steps = 0;
    out.forEach((v, t) => {
      if (v > 0 && input[t] > 0) {
        sum += v / input[t];
        steps++;
      }
    });
    return steps ? [{ layer: i, p: layer.p, ratio: sum / steps, steps }] : [];
  });
}

/**
 * The header's readout of dropoutRatios for the runs the per-layer charts draw: short text
 * (the header is narrow) and the long form for its tooltip.
 */
function ratioText(sources, labelled) {
  const short = [];
  const long = [];
  for (const source of sources) {
    const found = dropoutRatios(source.run, source.trace);
    if (!found.length) continue;
    short.push(found.map((r) => `×${r.ratio.toFixed(2)}`).join(' '));
    long.push(found.map((r) => `layer ${r.layer} (dropout ${r.p}): ×${r.ratio.toFixed(2)} ` +
      `over ${r.steps} steps`).join('; ') + (labelled ? ` (${source.label})` : ''));
  }
  return { text: short.length ? `dropout ${short.join(' · ')}` : '',
    title: "Each dropout layer's activation variance over its input's (the layer before), " +
      `averaged over the steps measured so far: ${long.join('; ')}. A single step is one ` +
      'mini-batch and one mask, too noisy to read.' };
}

/** One run's columns for every chart, fed from its history and layer trace. */
class RunColumns {
  /** @param {import('../runs.js').ShownRun} source @param {string[]} reluFamily */
  constructor(source, reluFamily) {
    this.source = source;
    this.picks = layerPicks(source.run, reluFamily);
    this.read = { gen: -1, evals: 0, traceGen: -1, trace: 0 };
  }

  feed() {
    const { history, trace } = this.source;
    if (this.read.gen !== history.generation) {
      this.metric = new Columns(2);
      this.lr = new Columns(1);
      Object.assign(this.read, { gen: history.generation, evals: 0 });
    }
    const e = history.evals;
    for (; this.read.evals < e.step.length; this.read.evals++) {
      const i = this.read.evals;
      this.metric.push(e.step[i], [e.train_metric[i], e.test_metric[i]]);
      this.lr.push(e.step[i], [e.lr[i]]);
    }
    if (this.read.traceGen !== trace.generation) {
      for (const key of LAYER_CHARTS) this[key] = new Columns(this.picks[key].length);
      Object.assign(this.read, { traceGen: trace.generation, trace: 0 });
    }
    for (; this.read.trace < trace.step.length; this.read.trace++) {
      const t = this.read.trace;
      for (const [key, column] of TRACE) {
        const values = trace.columns[column];
        const value = (i) => values[i]?.[t] ?? null;
        this[key].push(trace.step[t], this.picks[key].map((i) => (key === 'dead' ? value(i)
          : positive(value(i)))));
      }
    }
  }
}

/**
 * The learning-rate columns with the rate in use now as their last point: the curve has a
 * point per epoch, so an optimizer or schedule change would otherwise show only at the next
 * epoch's end (at step 0, the old rate).
 */
function withRateNow(data, frame) {
  const [x, y] = data;
  if (!frame || frame.lr === null || frame.lr === undefined) return data;
  const n = x.length;
  if (n && x[n - 1] > frame.step) return data;
  if (n && x[n - 1] === frame.step) return [x, [...y.slice(0, -1), frame.lr]];
  return [[...x, frame.step], [...y, frame.lr]];
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const grid = h('div', { class: 'chart-grid' });
  el.append(grid);
  const metric = card(grid, 'chart-metric', 'Accuracy');
  const lr = card(grid, 'chart-lr', 'Learning rate');
  const ratio = h('span', { id: 'dropout-ratio', class: 'chart-readout muted', hidden: true });
  const actVar = card(grid, 'chart-act-var', 'Activation variance per layer (log)', ratio);
  const gradNorm = card(grid, 'chart-grad-norm', 'Weight-gradient norm per layer (log)');
  const dead = card(grid, 'chart-dead', 'Dead units (ReLU family)');
  const traced = { actVar, gradNorm, dead };

  /** The run on show first, then the runs overlaid on it. @type {RunColumns[]} */
  let runs = [];
  let layered = 0; // how many of `runs` the per-layer charts draw
  let drawnKey = '';

  /** (Re)create the charts: their series depend on the runs, their tasks and their layers. */
  function rebuild(state) {
    const main = { key: 'shown', label: shownLabel(state), style: shownStyle(state),
      run: state.run, history: state.history, trace: state.trace };
    const others = overlays(state);
    const relu = store.schema.rules.relu_family;
    runs = [main, ...others].map((source) => new RunColumns(source, relu));
    const suffix = (r) => (others.length ? ` · ${r.source.label}` : '');
    const percent = state.run.summary.task === 'classification';
    metric.el.querySelector('h3').textContent = percent ? 'Accuracy' : 'R²';
    makePlot(metric, runs.flatMap((r) => {
      const dash = runDash(r.source.style);
      return [{ label: `train${suffix(r)}`, stroke: css(BLUE), dash },
        { label: `test${suffix(r)}`, stroke: css(ORANGE), width: 2, dash }];
    }), { percent });
    makePlot(lr, runs.map((r) => ({ label: `lr${suffix(r)}`, stroke: '#555',
      dash: runDash(r.source.style), paths: uPlot.paths.stepped({ align: 1 }) })));
    // A saved run keeps its curves and its last frame, not per-layer statistics over time.
    const recorded = Boolean(state.run.recorded);
    layered = recorded ? 0 : Math.min(runs.length, 1 + MAX_LAYER_OVERLAYS);
    for (const [key, c] of Object.entries(traced)) {
      const series = runs.slice(0, layered).flatMap((r) => r.picks[key].map((i, n) => ({
        label: `${r.picks.names[i]}${suffix(r)}`, stroke: seriesStyle(n).stroke,
        dash: runDash(r.source.style) ?? seriesStyle(n).dash })));
      makePlot(c, series, key === 'dead' ? { percent: true, range: [0, 1] } : { log: true });
      const none = !recorded && series.length === 0;
      const partial = !recorded && !none && layered < runs.length;
      c.note.hidden = !recorded && !none && !partial;
      c.note.classList.toggle('corner', partial);
      c.note.textContent = recorded ? 'Not kept in a saved run: press Run again to watch it.'
        : none ? 'No ReLU, LeakyReLU or PReLU layer: no unit can die.'
          : `${layered} of ${runs.length} runs`;
      c.note.title = partial ? 'A line per layer per run: the run on show and the first ' +
        `${layered - 1} others. Choose the run on show under Compare runs.` : '';
      c.el.dataset.series = String(series.length);
      c.el.dataset.runs = String(layered);
    }
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!state.run) return;
    const key = [state.run.session, state.run.variant, JSON.stringify(state.run.summary.layers),
      ...overlays(state).map((o) => o.key)].join('|');
    if (key !== drawnKey) {
      drawnKey = key;
      rebuild(state);
    } else if (!changes.has('frame') && !changes.has('run')) return;
    runs.forEach((r) => r.feed());
    metric.plot?.setData(align(runs.map((r) => r.metric.data)));
    lr.plot?.setData(align(runs.map((r, i) => (i === 0 ? withRateNow(r.lr.data, state.frame)
      : r.lr.data))));
    const shownRuns = runs.slice(0, layered).map((r) => r.source);
    const readout = ratioText(shownRuns, shownRuns.length > 1);
    ratio.textContent = readout.text;
    ratio.title = readout.title;
    ratio.hidden = !readout.text;
    if (!layered) return; // a saved run's charts hold no series (see rebuild)
    for (const [name, c] of Object.entries(traced)) {
      c.plot?.setData(align(runs.slice(0, layered).map((r) => r[name].data)));
    }
  }

  const unfit = fitPlots(grid, [metric, lr, actVar, gradNorm, dead]);
  return {
    update,
    destroy: () => {
      unfit();
      [metric, lr, actVar, gradNorm, dead].forEach((c) => c.plot?.destroy());
      el.replaceChildren();
    },
  };
}
