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

import { h } from '../fields.js';
import { fetchSweepFields } from '../rest.js';
import { forgetToken, ownerToken, remember } from '../owner.js';
import { label, parameterForm } from './sweepform.js';
import { sweepResults } from './sweepresults.js';

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
  const results = sweepResults((k) => show(k));
  el.append(h('header', { class: 'sweep-head' }, h('h3', { text: 'Sweep' }),
    h('span', { class: 'muted', text: 'many models at once, each parameter from a range or a ' +
      'choice; the rest as set above' }), useLesson),
  h('div', { class: 'sweep-form' }, strategy, trials.el, epochs.el, seed.el),
  form.el, h('div', { class: 'sweep-form' }, start, narrow, save, fork), ...results.el);

  let ws = null;
  let shown = 0;
  let next = null;
  let saved = null; // a saved sweep shown (/s/<id>): trials are not live
  let spec = null;

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function show(k) {
    shown = k;
    if (!saved) send({ type: 'show', trial: k });
    fork.disabled = false;
    results.show(k, Boolean(saved));
  }

  function sweepSpec() {
    return { base: spec, strategy: strategy.value, trials: Number(trials.input.value),
      epochs: Number(epochs.input.value), seed: Number(seed.input.value),
      round: next ? next.round : 0, parameters: form.params() };
  }

  function onMessage(message) {
    if (message.type === 'sweep_ready') {
      saved = null;
      shown = 0;
      results.begin(message);
    } else if (message.type === 'sweep_progress' && results.ready) {
      results.progress(message);
      el.dataset.done = String(message.done);
      next = message.done ? message.next : null;
      narrow.disabled = !next;
      save.disabled = !message.done;
    } else if (message.type === 'frame') {
      results.frame(message);
    } else if (message.type === 'saved_sweep') {
      remember(message);
      results.showLink(message.id, message.url, message.csv);
      store.announce('Sweep saved');
    } else if (message.type === 'event' && message.event === 'sweep_failed') {
      results.say(message.message, true);
    } else if (message.type === 'error') {
      if (message.code === 'unknown_token') forgetToken(); // the next save gets a new one
      results.say(`${message.field ? `${message.field}: ` : ''}${message.message}`, true);
    }
  }

  /** A saved sweep (GET /api/sweeps/<id>): its form, and its results at once. */
  function open(body) {
    saved = body;
    const sweep = body.sweep;
    form.set(sweep.parameters);
    strategy.value = sweep.strategy;
    trials.input.value = String(sweep.trials);
    epochs.input.value = String(sweep.epochs);
    seed.input.value = String(sweep.seed);
    results.open(body);
    el.dataset.done = 'true';
    show(0);
    el.scrollIntoView({ block: 'start' });
  }

  start.addEventListener('click', () => {
    results.say('');
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
    results.say(`round ${next.round}: ranges narrowed around the best ${next.narrow.k} ` +
      'trials; start to search them');
    narrow.disabled = true;
  });
  save.addEventListener('click', () => send({ type: 'save_sweep', name: 'sweep',
    token: ownerToken() }));
  fork.addEventListener('click', () => {
    const trial = results.rows[shown];
    if (!trial) return;
    // From a saved sweep's page, the run opens on the playground's own address.
    if (saved && location.pathname.startsWith('/s/')) {
      history.pushState(null, '', `/${location.hash}`);
    }
    store.editMany([...Object.entries(trial.values), ['training.seed', trial.seed],
      ['training.epochs', results.ready.sweep.epochs]]);
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
    results.say(`the lesson's search: ${template.parameters.map((p) =>
      label(p.path)).join(' and ')}, on the lesson's setup; start it`);
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
      results.say(`the sweep's fields could not be read: ${err.message}`, true);
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
