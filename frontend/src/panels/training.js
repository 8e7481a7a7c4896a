/**
 * The training panel: loss, optimizer and its hyperparameters, learning-rate schedule, L1/L2,
 * early stopping, epoch limit, seed and device. Every field comes from the schema; the
 * optimizer and schedule show the fields of the chosen kind only.
 *
 * Optimizer, schedule, regularisation and epoch changes apply to a running model at once
 * (app.js sends them as updates); loss, seed and device restart the run.
 */

import { FieldSet, h } from '../fields.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const NAMES = { lr: 'Learning rate', momentum: 'Momentum', dampening: 'Dampening',
  nesterov: 'Nesterov', weight_decay: 'Weight decay', alpha: 'Alpha', eps: 'Epsilon',
  centered: 'Centered', beta1: 'β₁', beta2: 'β₂', amsgrad: 'AMSGrad', lr_decay: 'LR decay',
  step_size: 'Every (epochs)', gamma: 'Factor γ', k: 'Rate k', t_max: 'Half-wave (epochs)',
  eta_min: 'Floor LR' };
const LABELS = { cross_entropy: 'cross-entropy', bce: 'binary cross-entropy', mse: 'mean squared',
  huber: 'Huber', sgd: 'SGD', rmsprop: 'RMSprop', adam: 'Adam', adamw: 'AdamW',
  adagrad: 'Adagrad', constant: 'constant', step: 'step decay', exponential: 'exponential',
  inverse_time: 'inverse time', cosine: 'cosine' };
/** Learning rates offered as suggestions (any value within the schema's bounds is allowed). */
const LR_PRESETS = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];

/**
 * What an optimizer switch changed, in words: the new kind starts from its defaults (the
 * server's rule), so say which settings moved and which the old kind had alone.
 */
function switchSummary(old, next, label) {
  const moved = Object.keys(next).filter((k) => k !== 'kind' && k in old && old[k] !== next[k])
    .map((k) => `${NAMES[k] || k} ${old[k]} → ${next[k]}`);
  const dropped = Object.keys(old).filter((k) => !(k in next)).map((k) => NAMES[k] || k);
  return [`${label(old.kind)} → ${label(next.kind)}: it starts from its defaults.`,
    moved.length ? `${moved.join(', ')}.` : '',
    dropped.length ? `${label(old.kind)} only: ${dropped.join(', ')} (dropped).` : '']
    .filter(Boolean).join(' ');
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const fixed = new FieldSet();
  const varying = new FieldSet();
  const label = (v) => LABELS[v] || v;
  const kinds = Object.keys(store.schema.nodeRaw('optimizer', store.state.spec)
    ?.discriminator?.mapping || {});

  const lossBox = h('div', { class: 'grid2' });
  const optimizerKind = h('div', { class: 'field', 'data-path': 'optimizer.kind' },
    h('label', { for: 'optimizer-kind', text: 'Optimizer' }),
    h('select', { id: 'optimizer-kind', title: 'Changing the optimizer keeps the model and ' +
      'step; the new optimizer starts from its defaults (the note below says what changed)' },
    ...kinds.map((k) => h('option', { value: k, text: label(k) }))));
  const kindSelect = /** @type {HTMLSelectElement} */ (optimizerKind.querySelector('select'));
  const switchNote = h('p', { class: 'switch-note muted', id: 'optimizer-switch-note',
    'aria-live': 'polite' });
  kindSelect.addEventListener('change', () => {
    const old = store.state.spec.optimizer;
    const def = store.schema.defFor('optimizer', kindSelect.value, store.state.spec);
    if (!def) return;
    const next = { ...store.schema.defaults(def), kind: kindSelect.value };
    if (store.edit('optimizer', next)) {
      switchNote.textContent = switchSummary(old, next, label);
      store.announce(switchNote.textContent);
    }
  });
  const optimizerBox = h('div', { class: 'grid2' });
  const scheduleBox = h('div', { class: 'grid2' });
  const lrList = h('datalist', { id: 'lr-presets' },
    ...LR_PRESETS.map((v) => h('option', { value: v })));

  el.append(h('h2', { text: 'Training' }), lrList,
    h('h3', { text: 'Loss' }), lossBox,
    h('h3', { text: 'Optimizer' }), h('div', { class: 'grid2' }, optimizerKind), switchNote,
    optimizerBox,
    h('h3', { text: 'Learning-rate schedule' }), scheduleBox,
    h('h3', { text: 'Regularisation' }),
    h('div', { class: 'grid2' },
      fixed.add(store, 'regularization.l1', { label: 'L1 λ', step: 0.0001 }),
      fixed.add(store, 'regularization.l2', { label: 'L2 λ', step: 0.0001 }),
      fixed.add(store, 'regularization.early_stopping.enabled', { label: 'Early stopping' }),
      fixed.add(store, 'regularization.early_stopping.patience', { label: 'Patience (epochs)' })),
    h('h3', { text: 'Run' }),
    h('div', { class: 'grid2' },
      fixed.add(store, 'training.epochs', { label: 'Epoch limit', hint: 'Empty: no limit.' }),
      fixed.add(store, 'training.seed', { label: 'Seed' }),
      fixed.add(store, 'training.device', { label: 'Device' })));

  let shape = '';
  function build(state) {
    const spec = state.spec;
    varying.destroy();
    const rules = store.schema.rules;
    const task = store.schema.tasks[spec.data.kind];
    const classes = rules.classes[spec.data.kind] ?? spec.data.classes;
    const losses = (rules.losses[task] || []).filter((k) =>
      !rules.two_class_losses.includes(k) || classes === 2);
    lossBox.replaceChildren(
      varying.add(store, 'loss.kind', { label: 'Loss', options: losses, format: label }),
      spec.loss.kind === 'huber' ? varying.add(store, 'loss.delta', { label: 'Huber δ' }) : '');
    const node = store.schema.node('optimizer', spec);
    optimizerBox.replaceChildren(...Object.keys(node?.properties || {})
      .filter((key) => key !== 'kind')
      .map((key) => varying.add(store, `optimizer.${key}`, { label: NAMES[key] || key })));
    optimizerBox.querySelector('[data-path="optimizer.lr"] input')?.setAttribute('list', 'lr-presets');
    scheduleBox.replaceChildren(
      varying.add(store, 'schedule.kind', { label: 'Schedule', format: label }),
      ...(rules.schedule_params[spec.schedule.kind] || []).map((key) =>
        varying.add(store, `schedule.${key}`, { label: NAMES[key] || key })));
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('spec') && !changes.has('run')) return;
    const spec = state.spec;
    const now = [spec.loss.kind, spec.optimizer.kind, spec.schedule.kind, spec.data.kind,
      spec.data.classes].join('|');
    if (now !== shape) {
      const active = /** @type {HTMLElement|null} */ (document.activeElement);
      const path = el.contains(active) ? active?.closest('.field')?.getAttribute('data-path') : null;
      build(state);
      shape = now;
      if (path) /** @type {HTMLElement|null} */ (el.querySelector(
        `.field[data-path="${path}"] input, .field[data-path="${path}"] select`))?.focus();
    }
    kindSelect.value = spec.optimizer.kind;
    fixed.sync();
    varying.sync();
  }

  return { update, destroy: () => { fixed.destroy(); varying.destroy(); el.replaceChildren(); } };
}
