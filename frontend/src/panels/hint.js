/**
 * The first-visit hint: what to do first, shown until dismissed (remembered in this browser's
 * localStorage), never on a saved experiment or a lesson, which explain themselves.
 */

import { h } from '../fields.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

const SEEN = 'torchplay.hint-seen';

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  let seen = false;
  try {
    seen = localStorage.getItem(SEEN) === '1';
  } catch {
    seen = false; // storage refused (private mode): show the hint, it is harmless
  }
  const close = h('button', { class: 'small', text: 'Got it' });
  el.append(h('p', {}, h('strong', { text: 'New here? ' }), 'Press ', h('strong', {
    text: 'Play' }), ' to train the network on the Data panel\'s points and watch the output ' +
    'learn its shape. Then change the data, add layers or units in Network (or with the + ' +
    'buttons on the diagram), or open ', h('strong', { text: 'Lessons' }), ' for a guided tour.'),
  close);
  close.addEventListener('click', () => {
    seen = true;
    el.hidden = true;
    try {
      localStorage.setItem(SEEN, '1');
    } catch {
      // not remembered: it shows again next visit
    }
  });

  /** @param {AppState} state */
  function update(state) {
    el.hidden = seen || Boolean(state.recorded) || Boolean(state.lesson) ||
      state.view.hide.length > 0;
  }
  return { update, destroy: () => el.replaceChildren() };
}
