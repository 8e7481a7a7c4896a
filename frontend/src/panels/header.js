/**
 * The top bar: play/pause, step 1, step N (steps or epochs), reset; the step and epoch
 * counters, epochs per second, the learning rate in use, and the run's state in words
 * (including a plain "diverged" message).
 */

import { h } from '../fields.js';
import { fmt } from '../format.js';
import { raisedLimit } from '../edits.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const PLAY = 'M4 2 L14 8 L4 14 Z';
const PAUSE = 'M3 2 H7 V14 H3 Z M9 2 H13 V14 H9 Z';

function icon(d) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(svg.namespaceURI, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return { svg, path };
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const playIcon = icon(PLAY);
  const playText = h('span', { class: 'play-text' }, 'Play');
  const play = h('button', { id: 'play', class: 'primary round play-labelled',
    'aria-label': 'Play', title: 'Train (resume)' }, playIcon.svg, playText);
  const stepOne = h('button', { id: 'step-one', class: 'ghost', title: 'One training step' },
    'Step');
  // The server's limit on one `step` request (1,000,000 today), read from the schema.
  const maxSteps = store.schema.limits.max_steps_per_request ?? Number.MAX_SAFE_INTEGER;
  const stepN = h('input', { id: 'step-n', type: 'number', min: 1, max: maxSteps, step: 1,
    value: 100, 'aria-label': 'How many to step' });
  const stepUnit = h('select', { id: 'step-unit', 'aria-label': 'Step unit' },
    h('option', { value: 'step', text: 'steps' }), h('option', { value: 'epoch', text: 'epochs' }));
  const stepGo = h('button', { id: 'step-n-go', class: 'ghost', title: 'Train exactly this many' },
    'Step N');
  const stepError = h('span', { class: 'field-error inline', role: 'alert' });
  const reset = h('button', { id: 'reset', class: 'ghost', title: 'Back to step 0 with fresh ' +
    'weights from the seed' }, '⟲ Reset');
  const stepCount = h('span', { id: 'counter-step', class: 'num', 'data-step': '0' }, '0');
  const epochCount = h('span', { id: 'counter-epoch', class: 'num' }, '0');
  const rate = h('span', { id: 'eps', class: 'num' }, '–');
  const lrNow = h('span', { id: 'lr-now', class: 'num' }, '–');
  const status = h('div', { id: 'status', class: 'status', role: 'status' });

  el.append(
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'),
      h('h1', {}, 'torchplay')),
    h('div', { class: 'controls' }, reset, play, stepOne,
      h('span', { class: 'step-n' }, stepN, stepUnit, stepGo, stepError)),
    h('dl', { class: 'counters' },
      h('div', {}, h('dt', {}, 'Step'), h('dd', {}, stepCount)),
      h('div', {}, h('dt', {}, 'Epoch'), h('dd', {}, epochCount)),
      h('div', {}, h('dt', {}, 'Epochs/s'), h('dd', {}, rate)),
      h('div', {}, h('dt', {}, 'LR now'), h('dd', {}, lrNow))),
    status);

  play.addEventListener('click', () => {
    store.control(store.state.status.running ? 'pause' : 'play');
  });
  stepOne.addEventListener('click', () => store.control('step', 1, 'step'));
  const stepMany = () => {
    const n = stepN.valueAsNumber;
    if (!Number.isInteger(n) || n < 1 || n > maxSteps) {
      stepError.textContent = `A whole number from 1 to ${maxSteps.toLocaleString('en-US')}`;
      return;
    }
    stepError.textContent = '';
    store.control('step', n, stepUnit.value);
  };
  stepGo.addEventListener('click', stepMany);
  stepN.addEventListener('keydown', (e) => { if (e.key === 'Enter') stepMany(); });
  reset.addEventListener('click', () => store.control('reset'));

  let smoothRate = 0;
  let lastStep = -1;

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    const s = state.status;
    if (changes.has('status')) {
      const running = s.running;
      const limit = !running && s.finished ? state.spec.training.epochs : null;
      playText.textContent = running ? 'Pause' : limit ? 'Continue' : 'Play';
      play.setAttribute('aria-label', playText.textContent);
      play.title = running ? 'Pause training' : limit ? `Reached the epoch limit (${limit}): ` +
        `Continue raises it to ${raisedLimit(store.schema, limit).toLocaleString('en-US')} and ` +
        'trains on' : 'Train (resume)';
      playIcon.path.setAttribute('d', running ? PAUSE : PLAY);
      play.disabled = Boolean(s.diverged) || !s.connected;
      stepOne.disabled = stepGo.disabled = Boolean(s.diverged);
      reset.classList.toggle('attention', Boolean(s.diverged));
      let text = '';
      let tone = '';
      if (!s.connected) {
        text = s.lost ? 'Connection lost, and its run; reconnecting…'
          : 'Connecting to the server…';
        tone = s.lost ? 'bad' : 'warn';
      }
      else if (s.diverged) { text = `Diverged: ${s.diverged}`; tone = 'bad'; }
      else if (s.error) { text = s.error; tone = 'bad'; }
      else if (s.note) { text = s.note; tone = 'info'; }
      else if (s.pending) text = 'Building the model…';
      status.textContent = text;
      status.title = text; // the line may be cut short: the whole of it on hover
      status.className = `status ${tone}`;
    }
    const f = state.frame;
    if (changes.has('frame') && f) {
      if (f.step !== lastStep) {
        stepCount.textContent = f.step.toLocaleString('en-US');
        stepCount.dataset.step = String(f.step);
        epochCount.textContent = f.epoch.toLocaleString('en-US');
        lastStep = f.step;
      }
      // The server's rate is measured over one frame interval: smooth it so it reads.
      const eps = f.running ? f.epochs_per_second : 0;
      smoothRate = f.running ? (smoothRate ? 0.8 * smoothRate + 0.2 * eps : eps) : 0;
      rate.textContent = f.running ? smoothRate.toFixed(smoothRate < 10 ? 1 : 0) : 'paused';
      lrNow.textContent = fmt(f.lr, 3);
      lrNow.dataset.lr = String(f.lr);
    }
    if (changes.has('run') && !f) {
      stepCount.textContent = '0';
      stepCount.dataset.step = '0';
      epochCount.textContent = '0';
    }
  }

  return { update, destroy: () => el.replaceChildren() };
}
