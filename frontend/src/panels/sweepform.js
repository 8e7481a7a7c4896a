/**
 * The sweep form's parameters: one row per parameter, each a field of the spec (the server
 * lists those a sweep may vary for the spec at hand: POST /api/sweep-fields, docs/sweeps.md),
 * a kind (log-uniform, uniform or powers of two for a number; a choice for any field) and its
 * range or values. Native controls only (selects, number inputs, checkboxes, buttons), so
 * every part works from the keyboard. `params()` reads the rows as SweepSpec parameters;
 * `set(params)` fills them (the defaults, a lesson's search, a narrowed round).
 */

import { h } from '../fields.js';

const LABELS = { 'optimizer.lr': 'learning rate', 'regularization.l2': 'L2',
  'regularization.l1': 'L1', 'network.layers.0.units': 'width', 'optimizer.kind': 'optimizer',
  'optimizer.momentum': 'momentum', 'training.batch_size': 'batch size' };
const LAYER = /^network\.layers\.(\d+)\.(units|fn|p)$/;
const LAYER_WORD = { units: 'width', fn: 'activation', p: 'dropout' };
/** Fields listed first, under "Common": what a course's searches vary. */
const COMMON = /^(optimizer\.(lr|kind|momentum)|regularization\.l[12]|training\.batch_size|network\.layers\.\d+\.(units|fn|p))$/;
const KIND_NAMES = { log_uniform: 'log-uniform', uniform: 'uniform', pow2: 'powers of two',
  choice: 'choice' };
const MAX_PARAMS = 8;

/** A parameter's name for people: "learning rate", "activation 1", else its path. */
export function label(path) {
  if (LABELS[path]) return LABELS[path];
  const layer = path.match(LAYER);
  return layer ? `${LAYER_WORD[layer[2]]} ${layer[1]}` : path;
}

const pow2Floor = (v) => 2 ** Math.floor(Math.log2(v));
const round3 = (v) => Number(Number(v).toPrecision(3));

/** The kinds a field takes: a number any of four, a choice field only `choice`. */
function kindsOf(field) {
  if (!field || field.type === 'choice') return ['choice'];
  const kinds = [];
  if (field.high === null || field.high > 0) kinds.push('log_uniform');
  kinds.push('uniform');
  if (field.high === null || field.high >= 1) kinds.push('pow2');
  return [...kinds, 'choice'];
}

/** A first range or value list for `field` of `kind`, around its value in the spec. */
function defaults(field, kind) {
  const v = Number(field.value);
  const low = field.low ?? -Infinity;
  const high = field.high ?? Infinity;
  const inside = (x) => Math.min(Math.max(x, low), high);
  if (kind === 'choice') {
    if (field.type === 'choice') return { values: [...field.choices] };
    const other = field.type === 'int' ? Math.round(inside(v * 2 || 1)) : round3(inside(v * 2 || 0.1));
    return { values: other === v ? [v] : [v, other] };
  }
  if (kind === 'pow2') {
    const base = pow2Floor(Math.max(v, 1));
    const lowest = 2 ** Math.ceil(Math.log2(Math.max(low, field.type === 'int' ? 1 : 2 ** -20)));
    const highest = pow2Floor(Math.min(high, 2 ** 20));
    return { low: Math.max(base / 4, lowest), high: Math.min(base * 4, highest) };
  }
  if (kind === 'log_uniform') {
    const centre = v > 0 ? v : Math.min(0.01, high);
    return { low: round3(Math.max(centre / 10, low > 0 ? low : centre / 10)),
      high: round3(inside(centre * 10)) };
  }
  const span = Math.abs(v) || 1;
  const a = inside(v - span / 2);
  const b = inside(v + span);
  return field.type === 'int' ? { low: Math.ceil(a), high: Math.floor(b) }
    : { low: round3(a), high: round3(b) };
}

/** @param {() => void} [changed] called when the rows change */
export function parameterForm(changed = () => {}) {
  /** @type {any[]} */
  let fields = [];
  /** @type {{param: any, el: HTMLElement}[]} */
  let rows = [];
  const list = h('div', { class: 'sweep-ranges', role: 'group', 'aria-label': 'Parameters' });
  const add = h('button', { type: 'button', id: 'sweep-add' }, 'Add parameter');
  const el = h('div', { class: 'sweep-params' }, list, add);
  const byPath = (path) => fields.find((f) => f.path === path);

  function numberInput(text, value, onInput) {
    const input = h('input', { type: 'number', step: 'any', value: String(value),
      'aria-label': text });
    input.addEventListener('input', () => onInput(Number(input.value)));
    return h('label', { class: 'sweep-field' }, h('span', { text }), input);
  }

  /** The controls of one row for `param` (a SweepSpec parameter, kept up to date). */
  function rowOf(param) {
    const field = byPath(param.path);
    const name = label(param.path);
    const path = h('select', { 'aria-label': `${name}: field`, class: 'sweep-path' });
    const known = fields.length ? fields : [{ path: param.path }];
    const groups = [['Common', known.filter((f) => COMMON.test(f.path))],
      ['Other fields', known.filter((f) => !COMMON.test(f.path))]];
    for (const [title, members] of groups) {
      if (!members.length) continue;
      path.append(h('optgroup', { label: title }, ...members.map((f) => h('option', {
        value: f.path, text: label(f.path) === f.path ? f.path : `${label(f.path)} (${f.path})`,
        selected: f.path === param.path }))));
    }
    path.value = param.path;
    path.addEventListener('change', () => replace(param, fresh(byPath(path.value))));
    const kind = h('select', { 'aria-label': `${name}: kind`, class: 'sweep-kind' },
      ...kindsOf(field ?? { type: param.kind === 'choice' ? 'choice' : 'float' }).map((k) =>
        h('option', { value: k, text: KIND_NAMES[k], selected: k === param.kind })));
    kind.value = param.kind;
    kind.addEventListener('change', () => {
      if (field) replace(param, { kind: kind.value, path: param.path, ...defaults(field, kind.value) });
    });
    const remove = h('button', { type: 'button', 'aria-label': `Remove ${name}`,
      disabled: rows.length <= 1, text: '×' });
    remove.addEventListener('click', () => {
      rows = rows.filter((r) => r.param !== param);
      render();
      /** @type {HTMLElement|null} */ (list.querySelector('select'))?.focus();
    });
    const parts = [path, kind];
    if (param.kind !== 'choice') {
      parts.push(numberInput(`${name} from`, param.low, (v) => { param.low = v; }),
        numberInput(`${name} to`, param.high, (v) => { param.high = v; }));
    } else if (field?.type === 'choice' || (!field && typeof param.values[0] !== 'number')) {
      const options = field ? field.choices : param.values;
      parts.push(h('fieldset', { class: 'sweep-values' }, h('legend', { text: `${name} values` }),
        ...options.map((value) => {
          const box = h('input', { type: 'checkbox', checked: param.values.includes(value) });
          box.addEventListener('change', () => {
            param.values = options.filter((v, i) => v === value ? box.checked
              : param.values.includes(options[i]));
          });
          return h('label', {}, box, ` ${String(value)}`);
        })));
    } else {
      const input = h('input', { type: 'text', value: param.values.join(', '),
        'aria-label': `${name} values`, inputmode: 'decimal' });
      input.addEventListener('input', () => {
        param.values = input.value.split(/[,\s]+/).filter(Boolean).map(Number);
      });
      parts.push(h('label', { class: 'sweep-field' }, h('span', { text: `${name} values (comma-separated)` }),
        input));
    }
    return h('div', { class: 'sweep-param', 'data-path': param.path }, ...parts, remove);
  }

  /** A new parameter for `field`: its first kind, with ranges around its value. */
  function fresh(field) {
    const kind = field.type === 'choice' ? 'choice'
      : field.type === 'float' && field.value > 0 ? 'log_uniform' : 'uniform';
    return { kind, path: field.path, ...defaults(field, kind) };
  }

  function replace(old, param) {
    const row = rows.find((r) => r.param === old);
    if (row) row.param = param;
    render();
    /** @type {HTMLElement|null} */ (list.querySelector(
      `.sweep-param[data-path="${CSS.escape(param.path)}"] .sweep-kind`))?.focus();
  }

  function render() {
    rows = rows.map(({ param }) => ({ param, el: rowOf(param) }));
    list.replaceChildren(...rows.map((r) => r.el));
    add.disabled = rows.length >= MAX_PARAMS || !fields.some((f) => !rows.some((r) =>
      r.param.path === f.path));
    changed();
  }

  add.addEventListener('click', () => {
    const used = new Set(rows.map((r) => r.param.path));
    const field = fields.find((f) => COMMON.test(f.path) && !used.has(f.path))
      ?? fields.find((f) => !used.has(f.path));
    if (!field) return;
    rows.push({ param: fresh(field), el: h('div') });
    render();
    /** @type {HTMLElement|null} */ (list.lastElementChild?.querySelector('select'))?.focus();
  });

  return {
    el,
    /** The rows as SweepSpec parameters. */
    params: () => rows.map(({ param }) => ({ ...param })),
    /** Show these parameters (range ends rounded to 3 significant digits for reading). */
    set(params) {
      rows = params.map((p) => ({ el: h('div'), param: p.kind === 'choice' || p.kind === 'pow2'
        ? { ...p } : { ...p, low: round3(p.low), high: round3(p.high) } }));
      render();
    },
    /** The fields this spec lets a sweep vary (rows for fields it lacks are kept). */
    setFields(list) {
      fields = list;
      render();
    },
  };
}
