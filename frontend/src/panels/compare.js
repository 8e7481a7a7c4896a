/**
 * Compare runs: pin the run on show as a reference (up to MAX_PINS), choose which of the runs
 * trained side by side the boundary and diagram show, and read, for every other run, only the
 * spec fields where it differs from the run on show. Each run's dash is the one the charts
 * draw it with.
 */

import { h } from '../fields.js';
import { fmtNum } from '../chartkit.js';
import { MAX_PINS, dashSwatch, shownStyle, specDiff } from '../runs.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

/** The differing fields of `other` against the run on show, as a list (or "same settings"). */
function diffList(shown, other) {
  const fields = specDiff(shown, other);
  if (!fields.length) return h('p', { class: 'diff muted', text: 'same settings' });
  return h('ul', { class: 'diff', 'aria-label': 'Settings that differ' }, ...fields.map(
    ([path, onShow, here]) => h('li', { 'data-path': path }, h('code', { text: path }), ' ',
      h('strong', { text: here }), h('span', { class: 'muted', text: ` (on show: ${onShow})` }))));
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const pinButton = h('button', { id: 'pin', type: 'button', onclick: () => {
    if (store.pin()) store.announce('Pinned: the charts keep this run as a reference');
  } }, 'Pin this run');
  const hint = h('span', { class: 'muted compare-hint' });
  const list = h('ul', { id: 'run-list', class: 'run-list' });
  el.append(h('header', { class: 'compare-head' }, h('h3', { text: 'Compare runs' }),
    pinButton, hint), list);

  /** The row of one run: dash, label, latest test figures, and its differences. */
  function row(state, { label, style, spec, selectable, k, pinId, frame }) {
    const shownSpec = state.run.spec;
    const selected = selectable && k === state.selected;
    const figures = frame ? `test loss ${fmtNum(frame.test_loss)}` : '';
    const head = h('div', { class: 'run-head' }, dashSwatch(style));
    if (selectable) {
      const radio = h('input', { type: 'radio', name: 'shown-run', value: String(k),
        checked: selected, 'aria-label': `Show ${label}` });
      radio.addEventListener('change', () => store.select(k));
      head.append(h('label', { class: 'run-label' }, radio, label));
    } else head.append(h('span', { class: 'run-label', text: label }));
    head.append(h('span', { class: 'muted run-figures', text: figures }));
    if (pinId) {
      head.append(h('button', { type: 'button', class: 'close', 'aria-label': `Unpin ${label}`,
        onclick: () => store.unpin(pinId) }, '×'));
    }
    return h('li', { class: selected ? 'run shown' : 'run', 'data-run': pinId || `v${k}` },
      head, selected ? h('p', { class: 'diff muted', text: 'on show in the output and ' +
        'the diagram' }) : diffList(shownSpec, spec));
  }

  let drawnKey = '';
  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!state.run) return;
    const group = state.runs.length > 1;
    const shownFrame = state.frame;
    pinButton.disabled = !shownFrame || state.pins.length >= MAX_PINS;
    hint.textContent = state.pins.length >= MAX_PINS ? `at most ${MAX_PINS} references`
      : group || state.pins.length ? '' : 'keep this run\'s curves, change something, and ' +
        'compare';
    // Redraw the list when the runs, the pins or the one on show change, and (for the test
    // losses) at most with each frame.
    const key = [state.run.session, state.selected, state.pins.map((p) => p.id),
      state.runs.map((r) => r.frame?.epoch)].join('|');
    if (key === drawnKey && !changes.has('pins') && !changes.has('run')) return;
    drawnKey = key;
    const rows = [];
    if (group) {
      state.runs.forEach((r, k) => rows.push(row(state, { label: r.label, style: k,
        spec: r.run.spec, selectable: true, k, frame: r.frame })));
    } else if (state.pins.length) {
      rows.push(row(state, { label: 'this run', style: shownStyle(state), spec: state.run.spec,
        selectable: true, k: 0, frame: shownFrame }));
    }
    const first = group ? state.runs.length : 1;
    state.pins.forEach((p, i) => rows.push(row(state, { label: p.label, style: first + i,
      spec: p.run.spec, selectable: false, pinId: p.id, frame: p.frame })));
    list.replaceChildren(...rows);
    el.classList.toggle('comparing', rows.length > 0);
  }
  return { update, destroy: () => el.replaceChildren() };
}
