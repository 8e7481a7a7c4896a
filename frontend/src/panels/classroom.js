/**
 * The classroom link: a teacher ticks controls to hide, and the address bar's link (copied
 * here too) opens the page with them hidden. It is a view setting, not a lock, and the page
 * says so: a "Show hidden controls" button brings them back for whoever wants them.
 */

import { h } from '../fields.js';
import { HIDEABLE } from '../view.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const boxes = Object.entries(HIDEABLE).map(([name, [label]]) => {
    const box = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox',
      'data-hide': name }));
    box.addEventListener('change', () => {
      const hide = Object.keys(HIDEABLE).filter((n) =>
        boxes.some((b) => b.dataset.hide === n && b.checked));
      store.setView('hide', hide);
    });
    return box;
  });
  const link = /** @type {HTMLInputElement} */ (h('input', { type: 'text', readonly: true,
    class: 'download', 'aria-label': 'Classroom link' }));
  const menu = h('details', { class: 'menu classroom-menu' },
    h('summary', { text: 'Classroom' }),
    h('div', { class: 'menu-body' },
      h('p', { text: 'Hide controls for whoever opens this page\'s link:' }),
      ...boxes.map((box) => h('label', { class: 'menu-item' }, box,
        ` ${HIDEABLE[/** @type {keyof HIDEABLE} */ (box.dataset.hide)][0]}`)),
      link,
      h('p', { class: 'muted', text: 'A view setting, not a lock: students see that controls ' +
        'are hidden and can show them again.' })));
  const shown = h('div', { class: 'hidden-note' },
    h('span', { class: 'muted', text: 'Some controls are hidden by this link.' }),
    h('button', { id: 'show-hidden', class: 'small', text: 'Show hidden controls' }));
  shown.querySelector('button')?.addEventListener('click', () => store.setView('hide', []));
  el.append(shown, menu);

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('view') && !changes.has('spec') && !changes.has('recorded')) return;
    const hide = new Set(state.view.hide);
    for (const box of boxes) box.checked = hide.has(/** @type {string} */ (box.dataset.hide));
    for (const [name, [, selector]] of Object.entries(HIDEABLE)) {
      document.querySelectorAll(selector).forEach((node) => {
        /** @type {HTMLElement} */ (node).hidden = hide.has(name);
      });
    }
    shown.hidden = hide.size === 0;
    // The address bar is written on the same animation frame, before the panels update.
    link.value = location.href;
  }

  return { update, destroy: () => el.replaceChildren() };
}
