/**
 * The sweep panel: search learning rate and L2 (log-uniform), or an open lesson's search, over
 * many trials trained at once on the server (docs/protocol.md, Sweeps), on a socket of its
 * own beside the run's. It says
 * how the trials split into groups before they train, draws the final metric against each
 * parameter (log axes) and a sortable table, streams the full frame of the clicked trial only,
 * narrows the ranges around the best trials (the server's rule, sent as `next`), saves the
 * sweep, and opens a trial as a normal run.
 */

import { paintGrid } from '../colors.js';
import { h } from '../fields.js';
import { decodeBase64 } from '../socket.js';
import { curves, fmt, parallel, scatter, table } from '../sweepviews.js';

/** @typedef {import('../types.js').Store} Store */

const DEFAULT_PARAMS = [
  { kind: 'log_uniform', path: 'optimizer.lr', low: 0.001, high: 3 },
  { kind: 'log_uniform', path: 'regularization.l2', low: 1e-6, high: 0.1 },
];
const LABELS = { 'optimizer.lr': 'learning rate', 'regularization.l2': 'L2',
  'network.layers.0.units': 'width' };
const label = (path) => LABELS[path] || path;

function numberField(label, name, value, attrs = {}) {
  const input = h('input', { type: 'number', name, value: String(value), step: 'any',
    'aria-label': label, ...attrs });
  return { input, el: h('label', { class: 'sweep-field' }, h('span', { text: label }), input) };
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const trials = numberField('Trials', 'trials', 64, { min: 1, max: 512, step: 1 });
  const epochs = numberField('Epochs per trial', 'epochs', 20, { min: 1, max: 1000, step: 1 });
  const seed = numberField('Sweep seed', 'seed', 0, { min: 0, step: 1 });
  let ranges = [];
  const rangeFields = h('div', { class: 'sweep-ranges' });
  /** Form rows for the parameters of a sweep (each a low and a high). */
  function setParams(params) {
    ranges = params.map((p) => ({ ...p, label: label(p.path),
      lo: numberField(`${label(p.path)} from`, `${p.path}.low`, p.low, { min: 0 }),
      hi: numberField(`${label(p.path)} to`, `${p.path}.high`, p.high, { min: 0 }) }));
    rangeFields.replaceChildren(...ranges.flatMap((r) => [r.lo.el, r.hi.el]));
  }
  setParams(DEFAULT_PARAMS);
  const useLesson = h('button', { type: 'button', id: 'sweep-lesson', hidden: true });
  let lessonId = null;
  let lessonBase = null;
  const start = h('button', { type: 'button', id: 'sweep-start', class: 'primary' }, 'Start sweep');
  const narrow = h('button', { type: 'button', id: 'sweep-narrow', disabled: true },
    'Narrow around the best');
  const save = h('button', { type: 'button', id: 'sweep-save', disabled: true }, 'Save sweep');
  const fork = h('button', { type: 'button', id: 'sweep-fork', disabled: true },
    'Open this trial as a run');
  const plan = h('p', { id: 'sweep-plan', class: 'muted', 'aria-live': 'polite' });
  const status = h('p', { id: 'sweep-status', class: 'muted' });
  const trialInfo = h('p', { id: 'sweep-trial' });
  const boundary = h('canvas', { id: 'sweep-boundary', width: 100, height: 100,
    'aria-label': 'the shown trial\'s output over the data', hidden: true });
  const link = h('p', { id: 'sweep-link' });
  const figures = h('div', { class: 'sweep-figures' });
  const pick = (k) => show(k);
  const tableWrap = h('div', { class: 'sweep-table-wrap' });
  let grid = null;
  el.append(h('header', { class: 'sweep-head' }, h('h3', { text: 'Sweep' }),
    h('span', { class: 'muted', text: 'many models at once, each parameter from a range ' +
      '(log scale); the rest as set above' }), useLesson),
  h('div', { class: 'sweep-form' }, trials.el, epochs.el, seed.el, rangeFields, start, narrow,
    save, fork),
  plan, status, h('div', { class: 'sweep-trial' }, boundary, trialInfo), link, figures,
  tableWrap);

  let ws = null;
  let ready = null;
  let rows = [];
  let shown = 0;
  let next = null;
  let views = [];
  const lines = curves();
  let spec = null;

  /** The shown trial's output over the data's window (a grid; 1-D curves are not drawn). */
  function drawBoundary(out) {
    boundary.hidden = !out || out.kind === 'curve';
    if (boundary.hidden) return;
    boundary.width = out.size;
    boundary.height = out.size;
    const ctx = boundary.getContext('2d');
    const image = ctx.createImageData(out.size, out.size);
    paintGrid(image.data, decodeBase64(out.values), { kind: out.kind, classes: out.classes,
      confidence: out.confidence ? decodeBase64(out.confidence) : undefined });
    ctx.putImageData(image, 0, 0);
    boundary.dataset.trial = String(shown);
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function show(k) {
    shown = k;
    send({ type: 'show', trial: k });
    fork.disabled = false;
    redraw();
  }

  function redraw() {
    for (const v of views) v.draw(rows, shown, 'test_loss');
    grid?.draw(rows, shown);
    if (ready) lines.draw(ready.sweep.epochs, shown);
  }

  function sweepSpec() {
    return { base: spec, strategy: 'random', trials: Number(trials.input.value),
      epochs: Number(epochs.input.value), seed: Number(seed.input.value),
      round: next ? next.round : 0,
      parameters: ranges.map((r) => ({ kind: r.kind, path: r.path,
        low: Number(r.lo.input.value), high: Number(r.hi.input.value) })) };
  }

  function onMessage(message) {
    if (message.type === 'sweep_ready') {
      ready = message;
      rows = message.trials.map((t) => ({ ...t, epoch: 0, test_loss: null, test_metric: null,
        diverged: false }));
      const groups = message.groups;
      plan.textContent = `${rows.length} trials in ${groups.length} group` +
        `${groups.length > 1 ? 's' : ''}: ` + groups.map((g, i) =>
        `group ${i}: ${g.trials.length} ${g.path} (${g.why})`).join('; ');
      const paths = message.sweep.parameters.map((p) => p.path);
      views = paths.map((path) => scatter(path, message.log[path], 'final test loss', pick));
      lines.reset(rows.length);
      const across = parallel(paths, paths.map((path) => message.log[path]), label);
      views.push({ el: across.el, draw: (r, k) => across.draw(r, k) });
      figures.replaceChildren(...views.map((v) => v.el), lines.el);
      grid = table([{ key: 'index', label: '#' },
        ...paths.map((path) => ({ key: `values.${path}`, label: label(path) })),
        { key: 'epoch', label: 'epochs' }, { key: 'test_loss', label: 'test loss' },
        { key: 'test_metric', label: 'test accuracy / R²' },
        { key: 'diverged', label: 'diverged' }], pick);
      tableWrap.replaceChildren(grid.el);
      link.replaceChildren();
      redraw();
    } else if (message.type === 'sweep_progress' && ready) {
      message.trials.forEach(([epoch, testLoss, testMetric, diverged], k) => {
        Object.assign(rows[k], { epoch, test_loss: testLoss, test_metric: testMetric,
          diverged });
        lines.add(k, epoch, testLoss);
      });
      const finished = rows.filter((r) => r.epoch >= ready.sweep.epochs || r.diverged).length;
      status.textContent = message.done
        ? `done: ${rows.length} trials, ${rows.filter((r) => r.diverged).length} diverged`
        : `training: ${finished} of ${rows.length} trials finished`;
      el.dataset.done = String(message.done);
      next = message.done ? message.next : null;
      narrow.disabled = !next;
      save.disabled = !message.done;
      redraw();
    } else if (message.type === 'frame' && message.variant === shown) {
      trialInfo.textContent = `trial ${shown}: step ${message.step}, epoch ${message.epoch}, ` +
        `test loss ${fmt(message.test_loss)}, test ${message.metric} ${fmt(message.test_metric)}`;
      drawBoundary(message.output);
    } else if (message.type === 'saved_sweep') {
      link.replaceChildren('Saved: ', h('a', { href: message.url, text: message.url }), ' · ',
        h('a', { href: message.csv, text: 'results.csv', download: '' }));
      store.announce('Sweep saved');
    } else if (message.type === 'error') {
      status.textContent = `${message.field ? `${message.field}: ` : ''}${message.message}`;
      status.classList.add('error');
    }
  }

  start.addEventListener('click', () => {
    status.classList.remove('error');
    const base = lessonBase || store.state.spec;
    spec = { ...base, training: { ...base.training, epochs: null } };
    const message = { type: 'start_sweep', sweep: sweepSpec(), show: 0 };
    shown = 0;
    if (ws && ws.readyState === WebSocket.OPEN) {
      send(message);
      return;
    }
    ws?.close();
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.addEventListener('open', () => send(message));
    ws.addEventListener('message', (event) => onMessage(JSON.parse(event.data)));
  });
  narrow.addEventListener('click', () => {
    if (!next) return;
    for (const r of ranges) {
      const p = next.parameters.find((q) => q.path === r.path);
      if (!p) continue;
      r.lo.input.value = String(Number(p.low.toPrecision(3)));
      r.hi.input.value = String(Number(p.high.toPrecision(3)));
    }
    status.textContent = `round ${next.round}: ranges narrowed around the best ` +
      `${next.narrow.k} trials; start to search them`;
    narrow.disabled = true;
  });
  save.addEventListener('click', () => send({ type: 'save_sweep', name: 'sweep' }));
  fork.addEventListener('click', () => {
    const trial = rows[shown];
    if (!trial) return;
    store.editMany([...Object.entries(trial.values), ['training.seed', trial.seed],
      ['training.epochs', ready.sweep.epochs]]);
    store.announce(`Trial ${shown} opened as a run`);
  });

  let template = null;
  useLesson.addEventListener('click', () => {
    if (!template) return;
    setParams(template.parameters);
    trials.input.value = String(template.trials);
    epochs.input.value = String(template.epochs);
    seed.input.value = String(template.seed);
    lessonBase = template.base;
    next = null;
    status.textContent = `the lesson's search: ${template.parameters.map((p) =>
      label(p.path)).join(' and ')}, on the lesson's setup; start it`;
  });

  /** A lesson with a random search offers it as a sweep. */
  async function offerLesson(lesson) {
    const answer = await fetch(`/api/lesson-sweeps/${encodeURIComponent(lesson.id)}`);
    if (!answer.ok) return;
    const { sweep } = await answer.json();
    if (!sweep || lessonId !== lesson.id) return;
    template = sweep;
    useLesson.textContent = `Use lesson ${lesson.number}'s search`;
    useLesson.hidden = false;
  }

  return {
    update(state) {
      const lesson = state.lesson;
      const id = lesson ? lesson.id : null;
      if (id === lessonId) return;
      lessonId = id;
      useLesson.hidden = true;
      template = null;
      if (lesson) offerLesson(lesson);
      if (lessonBase) {
        lessonBase = null;
        setParams(DEFAULT_PARAMS);
      }
    },
    destroy() { ws?.close(); },
  };
}
