/**
 * Form controls bound to spec paths, and the board that shows errors next to them.
 *
 * Every control reads its bounds, options and tooltip from the schema and commits through
 * store.edit(path, value), which checks the value before anything is sent. Errors (from that
 * check or from the server) are shown by the control registered for the path, or, failing
 * that, by the nearest registered ancestor (a builder block stands in for its fields).
 *
 * A number field shows a value with many digits (a sweep trial's learning rate, say) to a few
 * significant digits while it is not edited, marked "≈" with the exact value in its tooltip;
 * focused, it shows the exact value, so what is typed and sent is what is seen. Showing never
 * changes the setting: only a typed change is sent, and it is sent as typed.
 */

import { fieldText } from './format.js';
import { optionLabel } from './labels.js';

import { getPath } from './schema.js';

/** @typedef {import('./app.js').Store} Store */
/** @typedef {{show: (message: string) => void, clear: () => void}} ErrorTarget */

export class ErrorBoard {
  /** @param {(message: string|null) => void} fallback where errors with no place go */
  constructor(fallback) {
    this.fallback = fallback;
    /** @type {Map<string, ErrorTarget>} */
    this.targets = new Map();
    /** @type {Map<string, string>} */
    this.messages = new Map();
    /** @type {Set<(messages: Map<string, string>) => void>} */
    this.listeners = new Set();
  }

  /** Register where errors for `path` appear; returns the unregister function. */
  register(path, target) {
    this.targets.set(path, target);
    this.render();
    return () => {
      if (this.targets.get(path) === target) this.targets.delete(path);
    };
  }

  set(path, message) {
    this.messages.set(path, message);
    this.render();
  }

  /** Forget errors at `path` and below it. */
  clear(path = '') {
    for (const key of [...this.messages.keys()]) {
      if (!path || key === path || key.startsWith(`${path}.`)) this.messages.delete(key);
    }
    this.render();
  }

  /** The registered path that shows an error at `path`: itself or its nearest ancestor. */
  placeFor(path) {
    const parts = path.split('.');
    for (let n = parts.length; n > 0; n--) {
      const candidate = parts.slice(0, n).join('.');
      if (this.targets.has(candidate)) return candidate;
    }
    return null;
  }

  render() {
    /** @type {Map<string, string>} */
    const shown = new Map();
    const homeless = [];
    for (const [path, message] of this.messages) {
      const place = this.placeFor(path);
      if (place === null) { homeless.push(path ? `${path}: ${message}` : message); continue; }
      const rest = path.slice(place.length + 1);
      if (!shown.has(place)) shown.set(place, rest ? `${rest}: ${message}` : message);
    }
    for (const [path, target] of this.targets) {
      if (shown.has(path)) target.show(/** @type {string} */ (shown.get(path)));
      else target.clear();
    }
    this.fallback(homeless.length ? homeless.join(' · ') : null);
    this.listeners.forEach((fn) => fn(this.messages));
  }
}

let counter = 0;

/**
 * Create an element: h('button', {class: 'x', onclick: fn, text: 'Go'}, ...children).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Record<string, any>} [props]
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    // through the CSSOM: the page's Content-Security-Policy refuses style attributes
    else if (key === 'style' && typeof value === 'string') el.style.cssText = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') /** @type {any} */ (el)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

/** An element that shows an error message under a control (reserved space: no jump). */
function errorSlot(wrapper, input) {
  const slot = h('p', { class: 'field-error', id: `err-${++counter}`, role: 'alert' });
  wrapper.append(slot);
  input?.setAttribute('aria-describedby', slot.id);
  return {
    show(message) {
      slot.textContent = message;
      wrapper.classList.add('invalid');
      input?.setAttribute('aria-invalid', 'true');
    },
    clear() {
      slot.textContent = '';
      wrapper.classList.remove('invalid');
      input?.removeAttribute('aria-invalid');
    },
  };
}

/**
 * @typedef {Object} FieldOptions
 * @property {string} label
 * @property {'number'|'select'|'checkbox'|'range'} [kind] default: from the schema type
 * @property {number} [step] range/number step
 * @property {(v: any) => string} [format] shown value (range) or option label (select)
 * @property {any[]} [options] select options (default: the schema's enum)
 * @property {string} [hint] extra tooltip text
 * @property {(v: any) => any} [toSpec] convert the control's value before editing
 * @property {(v: any) => any} [fromSpec] convert the spec's value for the control
 */

/**
 * Fill a number input for reading: fieldText(value), marked rounded (the "≈" and a tooltip
 * with every digit) where that is not the exact value; data-exact keeps the exact text.
 * @param {HTMLElement} wrapper @param {HTMLInputElement} input @param {any} value
 */
function showNumber(wrapper, input, value) {
  const exact = value === null || value === undefined ? '' : String(value);
  const shown = fieldText(value);
  input.dataset.exact = exact;
  input.value = shown;
  const rounded = typeof value === 'number' && Number(shown) !== value;
  wrapper.classList.toggle('rounded', rounded);
  if (rounded) {
    input.title = `Shown rounded: the setting is exactly ${exact} (click or focus the field ` +
      'to see and edit every digit)';
  } else {
    input.removeAttribute('title');
  }
}

/**
 * A labelled control bound to `path`. sync() re-reads the spec (after a run replaced it).
 * @param {Store} store @param {string} path @param {FieldOptions} opts
 */
export function field(store, path, opts) {
  const spec = () => store.state.spec;
  const node = store.schema.node(path, spec()) || {};
  const kind = opts.kind || (node.type === 'boolean' ? 'checkbox'
    : node.enum ? 'select' : 'number');
  const id = `f-${path.replace(/\W/g, '-')}-${++counter}`;
  const title = [node.description, opts.hint].filter(Boolean).join(' ');
  const toSpec = opts.toSpec || ((v) => v);
  const fromSpec = opts.fromSpec || ((v) => v);
  const format = opts.format || (kind === 'select' ? optionLabel : (v) => String(v));
  /** @type {HTMLInputElement|HTMLSelectElement} */
  let input;
  let readout = null;
  const wrapper = h('div', { class: `field field-${kind}`, 'data-path': path, title });

  if (kind === 'select') {
    const options = opts.options || node.enum || [];
    input = h('select', { id }, ...options.map((o) => h('option', { value: o, text: format(o) })));
    wrapper.append(h('label', { for: id, text: opts.label }), input);
  } else if (kind === 'checkbox') {
    input = h('input', { id, type: 'checkbox' });
    wrapper.append(h('label', { for: id }, input, ` ${opts.label}`));
  } else {
    const min = node.minimum ?? node.exclusiveMinimum;
    const max = node.maximum ?? node.exclusiveMaximum;
    const step = opts.step ?? (node.type === 'integer' ? 1 : 'any');
    input = h('input', { id, type: kind === 'range' ? 'range' : 'number', step,
      min: kind === 'range' ? min : undefined, max: kind === 'range' ? max : undefined,
      inputmode: node.type === 'integer' ? 'numeric' : 'decimal' });
    const label = h('label', { for: id, text: opts.label });
    if (kind === 'range') {
      readout = h('output', { for: id, class: 'readout' });
      label.append(' ', readout);
      input.addEventListener('input', () => {
        readout.textContent = format(/** @type {HTMLInputElement} */ (input).valueAsNumber);
      });
    }
    wrapper.append(label, input);
  }

  const commit = () => {
    let value;
    if (kind === 'checkbox') value = /** @type {HTMLInputElement} */ (input).checked;
    else if (kind === 'select') value = input.value;
    else if (kind === 'number' && input.value === input.dataset.exact) return; // as it was
    else if (input.value.trim() === '' && node.nullable) value = null;
    else value = /** @type {HTMLInputElement} */ (input).valueAsNumber;
    if (!store.edit(path, toSpec(value))) return;
    sync();
  };
  input.addEventListener('change', commit);
  if (kind === 'number') {
    // Editing starts from every digit; leaving the field shows it for reading again.
    input.addEventListener('focus', () => {
      if (input.value !== input.dataset.exact) input.value = input.dataset.exact ?? '';
    });
    input.addEventListener('blur', () => sync());
  }

  const sync = () => {
    const value = fromSpec(getPath(spec(), path));
    if (document.activeElement === input && kind === 'number') return; // don't fight typing
    if (kind === 'checkbox') /** @type {HTMLInputElement} */ (input).checked = Boolean(value);
    else if (kind === 'number') showNumber(wrapper, /** @type {HTMLInputElement} */ (input), value);
    else input.value = value === null || value === undefined ? '' : String(value);
    if (readout) readout.textContent = format(value);
  };
  const unregister = store.errors.register(path, errorSlot(wrapper, input));
  sync();
  return { el: wrapper, input, sync, destroy: unregister };
}

/** A group of fields that re-syncs together and unregisters together. */
export class FieldSet {
  constructor() {
    /** @type {ReturnType<typeof field>[]} */
    this.items = [];
  }

  /** @param {Store} store @param {string} path @param {FieldOptions} opts */
  add(store, path, opts) {
    const item = field(store, path, opts);
    this.items.push(item);
    return item.el;
  }

  sync() { this.items.forEach((item) => item.sync()); }

  destroy() {
    this.items.forEach((item) => item.destroy());
    this.items = [];
  }
}

