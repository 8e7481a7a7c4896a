/**
 * The lesson's tool, inside the lesson card: the helper a lesson names in its `tool` field
 * (docs/lessons.md), shown beside its runs. Empty and hidden when no lesson is open or the
 * lesson has no tool.
 *
 * - activation_curves: every activation f and its derivative f′, from the server's own
 *   modules (GET /api/activations), as a grid of small charts.
 * - gradient_check: autograd against finite differences for the selected run, now.
 * - diagnosis: bias or variance for each run, from its train and test error
 *   (POST /api/diagnosis: the rule lives on the server, once).
 * - ema: what the loss chart's smoothing slider computes, with presets for it.
 *
 * Everything from the server is shown as text (textContent), never parsed as HTML.
 */

import { h } from '../fields.js';
import { fmt } from '../format.js';
import { activationCurves, diagnosis } from './toolparts.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

/** Training points the gradient check differentiates on (the protocol's default). */
const CHECK_POINTS = 8;
/** Below this largest relative difference, the backward pass is right (lesson 19). */
const AGREES = 1e-7;

const TOOLS = { activation_curves: activationCurves, gradient_check: gradientCheck, diagnosis,
  ema };

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  el.hidden = true;
  let shown = '';
  /** @type {{update: (state: AppState, changes: Set<string>) => void, destroy: () => void}|null} */
  let tool = null;

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    const lesson = state.lesson ?? null;
    const make = lesson?.tool ? TOOLS[lesson.tool] : undefined;
    const key = make ? `${lesson.id}|${lesson.tool}` : '';
    if (key !== shown) {
      // Another lesson: its tool starts afresh (results of the last one no longer apply).
      shown = key;
      tool?.destroy();
      tool = null;
      el.replaceChildren();
      el.hidden = !make;
      if (make) {
        const root = h('div', { id: `tool-${lesson.tool}`, class: 'tool' });
        el.append(root);
        tool = make(root, store);
      }
    }
    tool?.update(state, changes);
  }

  return { update, destroy: () => { tool?.destroy(); el.replaceChildren(); } };
}

/** A relative difference in exponent form ("3.1e-9"), as small numbers are read. */
const exp = (v) => (v === 0 ? '0' : v.toExponential(1));

/**
 * Check the gradients of the selected run at its current step: one row per parameter tensor.
 * @param {HTMLElement} root @param {Store} store
 */
function gradientCheck(root, store) {
  const button = h('button', { id: 'gradcheck-run', type: 'button', class: 'primary' },
    'Check gradients');
  const failure = h('span', { id: 'gradcheck-error', class: 'field-error', role: 'alert' });
  const summary = h('p', { id: 'gradcheck-summary', class: 'tool-summary', role: 'status' });
  const body = h('tbody');
  const table = h('table', { class: 'tool-table', hidden: true },
    h('thead', {}, h('tr', {}, ...['Layer', 'Tensor', 'Size', '‖gradient‖',
      'Relative difference'].map((text) => h('th', { scope: 'col', text })))), body);
  const footnote = h('p', { class: 'muted tool-footnote', hidden: true, text: 'Below ' +
    'resolution: both gradients are too small for a finite difference to measure (a bias ' +
    'right before BatchNorm has gradient exactly 0), so there is nothing to compare.' });
  root.append(h('div', { class: 'tool-actions' }, button,
    h('span', { class: 'muted', text: `float64, ε = 10⁻⁶, on ${CHECK_POINTS} training ` +
      'points, dropout off' }), failure), summary, table, footnote);

  let busy = false;
  /** Bumped when new runs start (a `ready`): an answer about the previous ones is dropped. */
  let generation = 0;
  let checkedRuns = null;

  button.addEventListener('click', async () => {
    const asked = generation;
    const variant = store.state.selected ?? 0;
    busy = true;
    button.disabled = true;
    button.textContent = 'Checking…';
    failure.textContent = '';
    try {
      const report = await store.checkGradients(variant, CHECK_POINTS);
      if (asked === generation) show(report, store.state.runs ?? []);
    } catch (err) {
      failure.textContent = /** @type {Error} */ (err).message;
    } finally {
      busy = false;
      button.textContent = 'Check gradients';
      button.disabled = !live(store.state);
    }
  });

  function show(report, runs) {
    const good = report.max_rel_diff < AGREES;
    const which = runs.length > 1 ? ` (${runs[report.variant]?.label ?? `run ${report.variant}`})`
      : '';
    summary.className = `tool-summary ${good ? 'ok' : 'warn'}`;
    summary.textContent = `Step ${report.step.toLocaleString('en-US')}${which}: the largest ` +
      `relative difference is ${exp(report.max_rel_diff)}, ${good
        ? 'so autograd agrees with finite differences.'
        : `above ${exp(AGREES)}: a backward pass may be wrong, or an input sits within ε of ` +
          'a kink (ReLU at 0).'}`;
    body.replaceChildren(...report.layers.map((row) => {
      const ok = row.below_resolution || row.rel_diff < AGREES;
      return h('tr', { 'data-tensor': `${row.layer}.${row.name}` },
        h('td', { text: `${row.layer}: ${row.module}` }), h('td', { text: row.name }),
        h('td', { class: 'num', text: row.numel.toLocaleString('en-US') }),
        h('td', { class: 'num', text: fmt(row.grad_norm) }),
        h('td', { class: `num rel ${row.below_resolution ? 'muted' : ok ? 'ok' : 'warn'}`,
          text: row.below_resolution ? 'below resolution' : exp(row.rel_diff) }));
    }));
    table.hidden = false;
    footnote.hidden = !report.layers.some((row) => row.below_resolution);
  }

  /** Whether the server holds a run to check (not a recording, not between runs). */
  const live = (state) => Boolean(state.run && !state.run.recorded);

  return {
    update(state) {
      // state.runs is a new array for each `ready` (showing another run keeps it, and the
      // summary names the run checked).
      if (state.runs !== checkedRuns) {
        checkedRuns = state.runs;
        generation++;
        summary.textContent = '';
        table.hidden = true;
        footnote.hidden = true;
      }
      if (!busy) button.disabled = !live(state);
    },
    destroy() { generation++; },
  };
}

/** Build "v_t" with a real subscript (text nodes only). */
const sub = (base, index) => h('span', {}, base, h('sub', { text: index }));

/**
 * What the loss chart's smoothing is, and presets for it.
 * @param {HTMLElement} root @param {Store} store
 */
function ema(root, store) {
  const presets = [[0, 'No smoothing'], [0.9, 'β = 0.9'], [0.99, 'β = 0.99']];
  const buttons = presets.map(([value, text]) => h('button', { type: 'button',
    'data-smoothing': String(value), 'aria-pressed': 'false',
    onclick: () => store.setView('smoothing', value) }, String(text)));
  root.append(
    h('p', {}, 'The loss chart’s “smooth” slider is β of a debiased exponential moving ' +
      'average of the mini-batch loss: ', sub('v', 't'), ' = β·', sub('v', 't−1'),
    ' + (1 − β)·', sub('x', 't'), ', from ', sub('v', '0'), ' = 0, drawn as ', sub('v', 't'),
    ' / (1 − β', h('sup', { text: 't' }), '). Without that division the curve would start ' +
      'near 0 and climb; with it, it starts at the loss. β = 0.9 averages about the last 10 ' +
      'steps, β = 0.99 the last 100.'),
    h('div', { class: 'tool-actions', role: 'group', 'aria-label': 'Smoothing presets' },
      ...buttons));
  return {
    update(state) {
      // Show which preset the slider is on (it may also be moved by hand).
      for (const button of buttons) {
        const on = Math.abs(Number(button.dataset.smoothing) - state.view.smoothing) < 1e-9;
        button.setAttribute('aria-pressed', String(on));
      }
    },
    destroy() {},
  };
}
