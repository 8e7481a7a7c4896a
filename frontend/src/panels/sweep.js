/**
 * The sweep panel: search any fields of the spec (sweepform.js; by default learning rate and
 * L2, log-uniform), or an open lesson's search, over many trials trained at once on the server
 * (docs/protocol.md, Sweeps), on a socket of its own beside the run's. It says how the trials
 * split into groups before they train, draws the final metric against each parameter (log
 * axes), parallel coordinates, every trial's curve and a sortable table, streams the full
 * frame of the clicked trial only, narrows the ranges around the best trials (the server's
 * rule, sent as `next`), saves and shares the sweep (its page /s/<id>), and opens a trial as a
 * normal run. On a saved sweep's page (/s/<id>) it shows the saved results at once.
 */

import { paintGrid } from '../colors.js';
import { h } from '../fields.js';
import { fetchSweepFields } from '../rest.js';
import { forgetToken, ownerToken, remember } from '../owner.js';
import { decodeBase64 } from '../socket.js';
import { curves, fmt, parallel, scatter, table } from '../sweepviews.js';
import { label, parameterForm } from './sweepform.js';

/** @typedef {import('../types.js').Store} Store */

const DEFAULT_PARAMS = [
  { kind: 'log_uniform', path: 'optimizer.lr', low: 0.001, high: 3 },
  { kind: 'log_uniform', path: 'regularization.l2', low: 1e-6, high: 0.1 },
];

function numberField(text, name, value, attrs = {}) {
  const input = h('input', { type: 'number', name, value: String(value), step: 'any',
    'aria-label': text, ...attrs });
  return { input, el: h('label', { class: 'sweep-field' }, h('span', { text }), input) };
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const trials = numberField('Trials', 'trials', 64, { min: 1, max: 512, step: 1 });
  const epochs = numberField('Epochs per trial', 'epochs', 20, { min: 1, max: 1000, step: 1 });
  const seed = numberField('Sweep seed', 'seed', 0, { min: 0, step: 1 });
  const strategy = h('select', { 'aria-label': 'Strategy', name: 'strategy' },
    h('option', { value: 'random', text: 'random' }),
    h('option', { value: 'grid', text: 'grid (4 steps a range)' }));
  strategy.addEventListener('change', () => { trials.input.disabled = strategy.value === 'grid'; });
  const form = parameterForm();
  form.set(DEFAULT_PARAMS);
  const useLesson = h('button', { type: 'button', id: 'sweep-lesson', hidden: true });
  let lessonId = null;
  let lessonBase = null;
  const start = h('button', { type: 'button', id: 'sweep-start', class: 'primary' }, 'Start sweep');
  const narrow = h('button', { type: 'button', id: 'sweep-narrow', disabled: true },
    'Narrow around the best');
  const save = h('button', { type: 'button', id: 'sweep-save', disabled: true },
    'Save and share sweep');
  const fork = h('button', { type: 'button', id: 'sweep-fork', disabled: true },
    'Open this trial as a run');
  const plan = h('p', { id: 'sweep-plan', class: 'muted', 'aria-live': 'polite' });
  const status = h('p', { id: 'sweep-status', class: 'muted' });
  const trialInfo = h('p', { id: 'sweep-trial' });
  const boundary = h('canvas', { id: 'sweep-boundary', width: 100, height: 100,
    'aria-label': 'the shown trial\'s output over the data', hidden: true });
  const link = h('div', { id: 'sweep-link' });
  const figures = h('div', { class: 'sweep-figures' });
  const pick = (k) => show(k);
  const tableWrap = h('div', { class: 'sweep-table-wrap' });
  let grid = null;
  el.append(h('header', { class: 'sweep-head' }, h('h3', { text: 'Sweep' }),
    h('span', { class: 'muted', text: 'many models at once, each parameter from a range or a ' +
      'choice; the rest as set above' }), useLesson),
  h('div', { class: 'sweep-form' }, strategy, trials.el, epochs.el, seed.el),
  form.el, h('div', { class: 'sweep-form' }, start, narrow, save, fork),
  plan, status, h('div', { class: 'sweep-trial' }, boundary, trialInfo), link, figures,
  tableWrap);

  let ws = null;
  let ready = null;
  let rows = [];
  let shown = 0;
  let next = null;
  let views = [];
  let saved = null; // a saved sweep shown (/s/<id>): trials are not live
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
    if (saved) {
      const r = rows[k];
      trialInfo.textContent = `trial ${k} (saved): ${r.epoch} epochs, test loss ` +
        `${fmt(r.test_loss)}, test ${ready.metric} ${fmt(r.test_metric)}`;
    } else {
      send({ type: 'show', trial: k });
    }
    fork.disabled = false;
    redraw();
  }

  function redraw() {
    for (const v of views) v.draw(rows, shown, 'test_loss');
    grid?.draw(rows, shown);
    if (ready) lines.draw(ready.sweep.epochs, shown);
  }

  function sweepSpec() {
    return { base: spec, strategy: strategy.value, trials: Number(trials.input.value),
      epochs: Number(epochs.input.value), seed: Number(seed.input.value),
      round: next ? next.round : 0, parameters: form.params() };
  }

  /** Draw the plan and empty views for `message` (a `sweep_ready`, or a saved sweep's). */
  function begin(message) {
    ready = message;
    rows = message.trials.map((t) => ({ ...t, epoch: 0, test_loss: null, test_metric: null,
      diverged: false }));
    const groups = message.groups;
    plan.textContent = `${rows.length} trials in ${groups.length} group` +
      `${groups.length > 1 ? 's' : ''}: ` + groups.map((g, i) =>
      `group ${i}: ${g.trials.length} ${g.path} (${g.why})`).join('; ') +
      (message.where === 'ray' ? '; each group a task on the server\'s Ray cluster (no ' +
        'live view of a trial there: open it as a run to watch it train)' : '');
    const paths = message.sweep.parameters.map((p) => p.path);
    const choices = message.sweep.parameters.map((p) => (p.kind === 'choice' ? p.values : null));
    views = paths.map((path, i) => scatter(path, message.log[path], 'final test loss', pick,
      choices[i]));
    lines.reset(rows.length);
    const across = parallel(paths, paths.map((path) => message.log[path]), label, choices);
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
  }

  function finished(done, count) {
    const diverged = rows.filter((r) => r.diverged).length;
    status.textContent = done ? `done: ${rows.length} trials, ${diverged} diverged`
      : `training: ${count} of ${rows.length} trials finished`;
    el.dataset.done = String(done);
  }

  /** The sweep's short link, with a copy button and its CSV. */
  function showLink(page, csv) {
    const url = h('input', { id: 'sweep-url', type: 'text', readonly: true,
      value: new URL(page, location.href).href, 'aria-label': 'Link to the saved sweep' });
    const copied = h('span', { class: 'muted', role: 'status' });
    const copy = h('button', { type: 'button', onclick: async () => {
      url.select();
      try {
        await navigator.clipboard.writeText(url.value);
        copied.textContent = 'copied';
      } catch {
        copied.textContent = 'select the link and copy it';
      }
    } }, 'Copy');
    link.replaceChildren(h('p', {}, 'Saved: ', h('a', { href: page, text: page }), ' · ',
      h('a', { href: csv, text: 'results.csv', download: '' })), url, copy, copied);
  }

  function onMessage(message) {
    if (message.type === 'sweep_ready') {
      saved = null;
      begin(message);
    } else if (message.type === 'sweep_progress' && ready) {
      message.trials.forEach(([epoch, testLoss, testMetric, diverged], k) => {
        Object.assign(rows[k], { epoch, test_loss: testLoss, test_metric: testMetric,
          diverged });
        lines.add(k, epoch, testLoss);
      });
      finished(message.done, rows.filter((r) => r.epoch >= ready.sweep.epochs || r.diverged)
        .length);
      next = message.done ? message.next : null;
      narrow.disabled = !next;
      save.disabled = !message.done;
      redraw();
    } else if (message.type === 'frame' && message.variant === shown) {
      trialInfo.textContent = `trial ${shown}: step ${message.step}, epoch ${message.epoch}, ` +
        `test loss ${fmt(message.test_loss)}, test ${message.metric} ${fmt(message.test_metric)}`;
      drawBoundary(message.output);
    } else if (message.type === 'saved_sweep') {
      remember(message);
      showLink(message.url, message.csv);
      store.announce('Sweep saved');
    } else if (message.type === 'event' && message.event === 'sweep_failed') {
      status.textContent = message.message;
      status.classList.add('error');
    } else if (message.type === 'error') {
      if (message.code === 'unknown_token') forgetToken(); // the next save gets a new one
      status.textContent = `${message.field ? `${message.field}: ` : ''}${message.message}`;
      status.classList.add('error');
    }
  }

  /** A saved sweep (GET /api/sweeps/<id>): its form, plan, views and curves at once. */
  function open(body) {
    saved = body;
    const sweep = body.sweep;
    form.set(sweep.parameters);
    strategy.value = sweep.strategy;
    trials.input.value = String(sweep.trials);
    epochs.input.value = String(sweep.epochs);
    seed.input.value = String(sweep.seed);
    begin({ ...body, trials: body.results });
    body.results.forEach((r, k) => Object.assign(rows[k], r, { epoch: r.epochs }));
    (body.curves || []).forEach((curve, k) => curve.forEach(([epoch, loss]) =>
      lines.add(k, epoch, loss)));
    finished(true, rows.length);
    status.textContent += ` · saved ${body.created.slice(0, 10)}` +
      `${body.name ? ` as “${body.name}”` : ''}`;
    showLink(body.links.page, body.links.csv);
    show(0);
    el.scrollIntoView({ block: 'start' });
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
    form.set(next.parameters);
    status.textContent = `round ${next.round}: ranges narrowed around the best ` +
      `${next.narrow.k} trials; start to search them`;
    narrow.disabled = true;
  });
  save.addEventListener('click', () => send({ type: 'save_sweep', name: 'sweep',
    token: ownerToken() }));
  fork.addEventListener('click', () => {
    const trial = rows[shown];
    if (!trial) return;
    // From a saved sweep's page, the run opens on the playground's own address.
    if (saved && location.pathname.startsWith('/s/')) {
      history.pushState(null, '', `/${location.hash}`);
    }
    store.editMany([...Object.entries(trial.values), ['training.seed', trial.seed],
      ['training.epochs', ready.sweep.epochs]]);
    store.announce(`Trial ${shown} opened as a run`);
  });

  let template = null;
  useLesson.addEventListener('click', () => {
    if (!template) return;
    form.set(template.parameters);
    trials.input.value = String(template.trials);
    epochs.input.value = String(template.epochs);
    seed.input.value = String(template.seed);
    lessonBase = template.base;
    next = null;
    refreshFields();
    status.textContent = `the lesson's search: ${template.parameters.map((p) =>
      label(p.path)).join(' and ')}, on the lesson's setup; start it`;
  });

  /** A lesson whose search is a sweep (GET /api/lessons: `sweep`) loads it here, and offers
   * it again after the form is changed. */
  function offerLesson(lesson) {
    if (!lesson.sweep) return;
    template = lesson.sweep;
    useLesson.textContent = `Use lesson ${lesson.number}'s search`;
    useLesson.hidden = false;
    useLesson.click();
  }

  /** The fields a sweep of the current base may vary, asked of the server. */
  let asked = '';
  async function refreshFields() {
    const base = lessonBase || store.state.spec;
    const key = JSON.stringify(base);
    if (!base || key === asked) return;
    asked = key;
    try {
      const fields = await fetchSweepFields(base);
      if (asked === key) form.setFields(fields);
    } catch (err) {
      asked = '';
      status.textContent = `the sweep's fields could not be read: ${err.message}`;
    }
  }

  if (store.state.savedSweep) open(store.state.savedSweep);
  return {
    update(state) {
      refreshFields();
      const lesson = state.lesson;
      const id = lesson ? lesson.id : null;
      if (id === lessonId) return;
      lessonId = id;
      useLesson.hidden = true;
      template = null;
      if (lessonBase) {
        lessonBase = null;
        form.set(DEFAULT_PARAMS);
      }
      if (lesson) offerLesson(lesson);
    },
    destroy() { ws?.close(); },
  };
}
