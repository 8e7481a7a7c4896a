/**
 * The network builder: a palette of blocks and the stack of hidden layers.
 *
 * Pointer: drag a palette block into the stack (where the marker shows), drag stack blocks to
 * reorder them, drag one out of the stack to remove it, click one to edit it.
 * Keyboard: palette blocks are buttons (Enter adds after the selected block, or at the end);
 * stack blocks are focusable: Enter edits, Alt+arrows move, Delete/Backspace removes,
 * arrows move focus. Each change is one spec edit, announced for screen readers.
 */

import { h } from '../fields.js';
import { draggable } from '../dnd.js';
import { createEditor } from './editor.js';
import {
  blockKind, blockLabel, dropTarget, makePalette, notes, placeMarker,
} from './stack.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const spec = () => store.state.spec;
  let selected = -1; // the selected block (new blocks go after it); -1: none; -2: output
  let editing = false; // whether the editor is open on the selected block
  let lastNetwork = ''; // what the blocks show, to tell a relabel from a rebuild
  let lastShape = '';
  /** @type {(() => void)[]} */
  const cleanups = [];

  // --- palette: click/Enter adds after the selected block; drag drops where it lands ---
  const palette = makePalette(store, (make) => insert(make(), selected >= 0 ? selected + 1 : null),
    (button, make) => cleanups.push(draggable(button, { payload: () => ({ make }), over, drop,
      end })));

  // --- stack ---
  const list = h('ol', { class: 'stack-list', 'aria-label': 'Hidden layers, input to output' });
  const marker = h('div', { class: 'insert-marker', hidden: true });
  const zone = h('div', { class: 'stack', id: 'stack' },
    h('span', { class: 'stack-end', text: 'inputs' }), list,
    h('button', { class: 'block output-block', id: 'output-block', title: 'The output Linear ' +
      '(sized by the task); Enter to edit its initializer',
      onclick: () => select(-2, true, false) }, 'Output'), marker);
  const message = h('div', { class: 'stack-message', role: 'alert' });
  const noteList = h('ul', { class: 'stack-notes' });
  const editorHost = h('div', { class: 'editor-host' });
  el.append(h('h2', { text: 'Network' }), palette, zone, message, noteList, editorHost);
  const editor = createEditor(store, editorHost, () => {
    const index = selected;
    editing = false;
    render();
    const target = index === -2 ? zone.querySelector('.output-block') : list.children[index];
    /** @type {HTMLElement|null} */ (target)?.focus();
  });

  let serverMessage = '';
  /** @type {(() => void)[]} */
  let blockCleanups = [];
  /** @type {Map<number, string>} */
  const blockErrors = new Map();
  const unregisterNet = store.errors.register('network', {
    show: (m) => { serverMessage = m; renderMessage(); },
    clear: () => { serverMessage = ''; renderMessage(); },
  });
  function renderMessage() {
    const lines = [serverMessage, ...[...blockErrors].map(([i, m]) =>
      `Layer ${i + 1} (${blockLabel(spec().network.layers[i] || {})}): ${m}`)].filter(Boolean);
    message.textContent = lines.join(' · ');
    zone.classList.toggle('invalid', lines.length > 0);
  }

  // --- edits ---
  const layers = () => spec().network.layers.map((l) => structuredClone(l));
  function commit(next, announcement, focusIndex) {
    if (!store.edit('network.layers', next)) return false;
    store.announce(announcement);
    render();
    if (focusIndex !== undefined) {
      /** @type {HTMLElement|undefined} */ (list.children[focusIndex])?.focus();
    }
    return true;
  }
  function insert(layer, at) {
    const next = layers();
    const index = at === null || at === undefined ? next.length : at;
    next.splice(index, 0, layer);
    if (commit(next, `Added ${blockLabel(layer)} at position ${index + 1}`)) {
      selected = index;
      editing = false;
      render();
    }
  }
  function move(from, to) {
    const next = layers();
    if (to < 0 || to >= next.length || from === to) return;
    const [layer] = next.splice(from, 1);
    next.splice(to, 0, layer);
    if (selected === from) selected = to;
    commit(next, `Moved ${blockLabel(layer)} to position ${to + 1}`, to);
  }
  function remove(index) {
    const next = layers();
    const [layer] = next.splice(index, 1);
    if (selected === index) { selected = -1; editing = false; }
    else if (selected > index) selected--;
    const focus = next.length ? Math.min(index, next.length - 1) : undefined;
    commit(next, `Removed ${blockLabel(layer)}`, focus);
    if (focus === undefined) /** @type {HTMLElement} */ (palette.querySelector('button'))?.focus();
  }
  function select(index, edit, focusEditor) {
    selected = index;
    editing = edit;
    render();
    if (focusEditor) /** @type {HTMLElement|null} */ (editorHost.querySelector(
      'input, select'))?.focus();
  }

  // --- dragging ---
  function over(x, y, payload) {
    const at = dropTarget(zone, list, x, y);
    zone.classList.toggle('drop-target', at !== null);
    placeMarker(marker, zone, list, at);
    if (at === null) return payload.from !== undefined ? 'remove' : '';
    return 'insert';
  }
  function drop(x, y, payload) {
    const at = dropTarget(zone, list, x, y);
    if (payload.from === undefined) {
      if (at !== null) insert(payload.make(), at.index);
    } else if (at === null) {
      remove(payload.from);
    } else {
      const to = at.index > payload.from ? at.index - 1 : at.index;
      move(payload.from, to);
    }
  }
  function end() {
    marker.hidden = true;
    zone.classList.remove('drop-target');
  }

  // --- rendering ---
  function render() {
    blockCleanups.forEach((fn) => fn());
    blockCleanups = [];
    const current = spec().network.layers;
    lastNetwork = JSON.stringify(spec().network);
    lastShape = current.map((l) => l.type).join(',');
    if (selected >= current.length) { selected = -1; editing = false; }
    const flagged = new Map(notes(current).filter(([i]) => i >= 0));
    const items = current.map((layer, i) => {
      const item = h('li', { class: `block kind-${blockKind(layer)}`, tabindex: 0, 'data-index': i,
        'aria-current': i === selected ? 'true' : undefined,
        'aria-expanded': i === selected && editing ? 'true' : 'false',
        'aria-label': `Layer ${i + 1} of ${current.length}: ${blockLabel(layer)}. Enter to ` +
          'edit, Alt+arrows to move, Delete to remove.',
        title: flagged.get(i) || 'Click to edit; drag to move; drag out to remove',
      }, blockLabel(layer));
      item.classList.toggle('noted', flagged.has(i));
      item.addEventListener('click', () => select(i, true, false));
      item.addEventListener('keydown', (e) => onBlockKey(e, i));
      blockCleanups.push(draggable(item, { payload: () => ({ from: i }), over, drop, end }));
      blockCleanups.push(store.errors.register(`network.layers.${i}`, {
        show: (m) => { item.classList.add('invalid'); blockErrors.set(i, m); renderMessage(); },
        clear: () => { item.classList.remove('invalid'); blockErrors.delete(i); renderMessage(); },
      }));
      return item;
    });
    list.replaceChildren(...items);
    zone.querySelector('.output-block')?.setAttribute('aria-current',
      String(selected === -2));
    noteList.replaceChildren(...notes(current).map(([i, text]) =>
      h('li', { text: i >= 0 ? `Layer ${i + 1}: ${text}` : text })));
    if (selected === -1 || !editing) editor.close();
    else if (editor.index !== selected) editor.show(selected);
    else editor.sync();
  }

  function onBlockKey(/** @type {KeyboardEvent} */ e, i) {
    const count = list.children.length;
    const focus = (j) => /** @type {HTMLElement|undefined} */ (list.children[j])?.focus();
    if (e.key === 'Enter' || e.key === ' ') select(i, true, true);
    else if (e.key === 'Delete' || e.key === 'Backspace') remove(i);
    else if (e.altKey && (e.key === 'ArrowLeft' || e.key === 'ArrowUp')) move(i, i - 1);
    else if (e.altKey && (e.key === 'ArrowRight' || e.key === 'ArrowDown')) move(i, i + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') focus(Math.max(0, i - 1));
    else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') focus(Math.min(count - 1, i + 1));
    else if (e.key === 'Home') focus(0);
    else if (e.key === 'End') focus(count - 1);
    else return;
    e.preventDefault();
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('spec')) return;
    const network = JSON.stringify(state.spec.network);
    if (network === lastNetwork) return;
    lastNetwork = network;
    const current = state.spec.network.layers;
    const shape = current.map((l) => l.type).join(',');
    if (shape === lastShape && list.children.length === current.length) {
      // Same blocks, new settings (an edit in the form): relabel in place, keep focus.
      current.forEach((layer, i) => { list.children[i].firstChild.textContent = blockLabel(layer); });
      editor.sync();
      return;
    }
    lastShape = shape;
    const active = document.activeElement;
    const hadFocus = active && list.contains(active) ? [...list.children].indexOf(active) : -1;
    render();
    if (hadFocus >= 0) /** @type {HTMLElement|undefined} */ (list.children[hadFocus])?.focus();
  }

  return {
    update,
    destroy: () => {
      [...cleanups, ...blockCleanups].forEach((fn) => fn());
      unregisterNet();
      editor.close();
      el.replaceChildren();
    },
  };
}
