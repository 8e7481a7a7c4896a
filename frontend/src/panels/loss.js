/**
 * The loss chart: every training step's mini-batch loss, smoothed with a debiased exponential
 * moving average over the raw curve (kept faintly visible), and the eval-mode train and test
 * losses of each epoch; log scale and smoothing are controls. Runs being compared are
 * overlaid (smoothed and test loss, in their own dash). With early stopping on, a marker
 * shows the step of the best test loss so far. Each run's columns read only the history rows
 * that are new since the last draw.
 */

import { h } from '../fields.js';
import { BLUE, ORANGE, css } from '../colors.js';
import { Columns, Smoother, align } from '../chartdata.js';
import { card, fitPlots, makePlot } from '../chartkit.js';
import { overlays, runDash, shownLabel, shownStyle } from '../runs.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const floor = (v) => (v === null ? null : Math.max(v, 1e-12)); // keeps a log axis finite

/** One run's loss columns: [batch, smoothed, train, test] for the run on show, [smoothed,
 * test] for one overlaid. */
class LossColumns {
  constructor(source, shown) {
    this.source = source;
    this.shown = shown;
    this.read = { gen: -1, steps: 0, evals: 0, smoothing: -1 };
  }

  /** Feed the new rows of both series, merged in step order (an epoch's eval follows the
   * step that ended it, and shares its x). */
  feed(smoothing) {
    const { history } = this.source;
    if (this.read.gen !== history.generation || this.read.smoothing !== smoothing) {
      this.cols = new Columns(this.shown ? 4 : 2);
      this.smoother = new Smoother(smoothing);
      this.read = { gen: history.generation, steps: 0, evals: 0, smoothing };
    }
    const s = history.steps;
    const e = history.evals;
    const read = this.read;
    while (read.steps < s.step.length || read.evals < e.step.length) {
      const takeEval = read.evals < e.step.length &&
        (read.steps >= s.step.length || e.step[read.evals] < s.step[read.steps]);
      if (takeEval) {
        const i = read.evals++;
        const test = floor(e.test_loss[i]);
        this.cols.push(e.step[i], this.shown ? [null, null, floor(e.train_loss[i]), test]
          : [null, test]);
      } else {
        const i = read.steps++;
        const raw = floor(s.loss[i]);
        const smooth = this.smoother.next(raw);
        this.cols.push(s.step[i], this.shown ? [raw, smooth, null, null] : [smooth, null]);
      }
    }
  }
}

/** uPlot hook: a dashed vertical line at the best test loss's step, labelled. */
function bestMarker(getStep) {
  return (u) => {
    const step = getStep();
    if (step === null) return;
    const x = u.valToPos(step, 'x', true);
    const { top, height, left, width } = u.bbox;
    if (x < left || x > left + width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#2b8a3e';
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.fillStyle = '#2b8a3e';
    ctx.font = `${11 * devicePixelRatio}px system-ui`;
    ctx.textAlign = x > left + width - 60 * devicePixelRatio ? 'right' : 'left';
    ctx.fillText('best test', x + (ctx.textAlign === 'left' ? 4 : -4) * devicePixelRatio,
      top + 12 * devicePixelRatio);
    ctx.restore();
  };
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const view = store.state.view;
  const logBox = h('input', { type: 'checkbox', id: 'loss-log', checked: view.logLoss });
  const smooth = h('input', { type: 'range', id: 'loss-smoothing', min: 0, max: 0.99,
    step: 0.01, value: view.smoothing, 'aria-label': 'Smoothing' });
  const smoothOut = h('output', { text: view.smoothing.toFixed(2) });
  logBox.addEventListener('change', () => store.setView('logLoss', logBox.checked));
  smooth.addEventListener('input', () => {
    smoothOut.textContent = Number(smooth.value).toFixed(2);
    store.setView('smoothing', Number(smooth.value));
  });
  const loss = card(el, 'chart-loss', 'Loss',
    h('label', { class: 'chip' }, logBox, ' log'),
    h('label', { class: 'smooth', title: 'Debiased exponential smoothing of the mini-batch ' +
      'loss; the raw curve stays faint behind it' }, 'smooth ', smooth, smoothOut));

  /** @type {LossColumns[]} */
  let runs = [];
  let drawnKey = '';
  /** @type {number|null} */
  let bestStep = null;

  function rebuild(state) {
    const main = { label: shownLabel(state), style: shownStyle(state), history: state.history };
    const others = overlays(state);
    runs = [new LossColumns(main, true), ...others.map((o) => new LossColumns(o, false))];
    const suffix = (r) => (others.length ? ` · ${r.source.label}` : '');
    const dash = runDash(main.style);
    makePlot(loss, [
      { label: `batch${suffix(runs[0])}`, stroke: css(BLUE, 0.22), width: 1, dash },
      { label: `smoothed${suffix(runs[0])}`, stroke: css(BLUE), dash },
      { label: `train${suffix(runs[0])}`, stroke: '#333', dash: dash ?? [4, 3] },
      { label: `test${suffix(runs[0])}`, stroke: css(ORANGE), width: 2, dash },
      ...runs.slice(1).flatMap((r) => [
        { label: `smoothed${suffix(r)}`, stroke: css(BLUE), dash: runDash(r.source.style) },
        { label: `test${suffix(r)}`, stroke: css(ORANGE), width: 2,
          dash: runDash(r.source.style) }]),
    ], { log: state.view.logLoss, hooks: { draw: [bestMarker(() => bestStep)] } });
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    // A lesson or a tool may set the smoothing; the slider follows the state it shows.
    if (Number(smooth.value) !== state.view.smoothing) {
      smooth.value = String(state.view.smoothing);
      smoothOut.textContent = state.view.smoothing.toFixed(2);
    }
    if (!state.run) return;
    const key = [state.run.session, state.run.variant, state.run.recorded, state.view.logLoss,
      ...overlays(state).map((o) => o.key)].join('|');
    if (key !== drawnKey) {
      drawnKey = key;
      rebuild(state);
    } else if (!changes.has('frame') && !changes.has('view') && !changes.has('run')) return;
    runs.forEach((r) => r.feed(state.view.smoothing));
    // Early stopping watches the test loss: mark where it was best (lesson 23).
    const best = state.run.spec.regularization.early_stopping?.enabled ? state.frame?.best : null;
    bestStep = best ? best.step : null;
    loss.el.dataset.bestStep = bestStep === null ? '' : String(bestStep);
    loss.plot?.setData(align(runs.map((r) => r.cols.data)));
    loss.el.dataset.points = String(runs[0].cols.x.length);
  }

  const unfit = fitPlots(el, [loss]);
  return { update, destroy: () => { unfit(); loss.plot?.destroy(); el.replaceChildren(); } };
}
