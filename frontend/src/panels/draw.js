/**
 * Drawing your own points (data.kind "drawn") on the Output plane: click to add a point of
 * the chosen class (or target value), drag to paint several, the eraser to remove them,
 * Clear, Undo and Redo. By mouse, touch (pointer events) and keyboard: the plane takes focus,
 * arrow keys move a cursor, Enter or Space adds a point there, Delete erases near it, the
 * digits 1–5 pick a class, Ctrl+Z undoes and Ctrl+Y (or Ctrl+Shift+Z) redoes.
 *
 * The points live in the spec (data.drawn, columnar). Every finished stroke is one edit, so
 * the run restarts once per stroke, not once per point; a drawing of fewer than 2 points
 * waits on the page (the plane shows it) until there is something to train and test on.
 */

import { h } from '../fields.js';
import { classColor, divergingCss } from '../colors.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {{task: string, x1: number[], x2: number[], value: number[]}} Drawing */

const HALF = 6; // the spec's bound: drawn points lie in [-6, 6]²
const EXTENT = [-6.24, 6.24, -6.24, 6.24]; // the toy sets' window (±6 and 2%)
const SPACING = 0.4; // plane units between the points a drag paints
const ERASE_RADIUS = 0.6;
const MAX_CLASSES = 5;
const STEP = 0.25; // a keyboard arrow's move

const clamp = (v) => Math.max(-HALF, Math.min(HALF, Math.round(v * 1000) / 1000));
const empty = (task) => ({ task, x1: [], x2: [], value: [] });
const copy = (d) => ({ task: d.task, x1: [...d.x1], x2: [...d.x2], value: [...d.value] });

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  let drawing = false;
  let tool = 'add';
  let value = 0; // class index, or target value for regression
  /** @type {Drawing} */
  let draft = empty('classification');
  /** @type {Drawing[]} */
  const undo = [];
  /** @type {Drawing[]} */
  const redo = [];
  let cursor = [0, 0];
  let stroke = null; // the drawing before the stroke now under way

  const toggle = h('button', { id: 'draw-toggle', class: 'ghost', 'aria-pressed': 'false',
    title: 'Draw your own points on the Output plane', onclick: () => setDrawing(!drawing) },
  '✎ Draw points');
  const taskSelect = h('select', { id: 'draw-task', 'aria-label': 'What the points carry' },
    h('option', { value: 'classification', text: 'classes' }),
    h('option', { value: 'regression', text: 'values' }));
  taskSelect.addEventListener('change', () => {
    if (taskSelect.value === draft.task) return;
    // Classes and values do not mix: a new task starts an empty drawing (undo brings it back).
    commit(empty(taskSelect.value));
    value = 0;
    render();
  });
  const swatches = h('div', { class: 'draw-classes', role: 'radiogroup',
    'aria-label': 'Class of new points' });
  const classButtons = Array.from({ length: MAX_CLASSES }, (_, k) => {
    const b = h('button', { class: 'swatch-button', role: 'radio', 'data-class': k,
      title: `class ${k} (key ${k + 1})`, onclick: () => { value = k; tool = 'add'; render(); } },
    h('i', { style: `background:${classColor(k, MAX_CLASSES)}` }), String(k));
    swatches.append(b);
    return b;
  });
  const target = h('input', { type: 'range', id: 'draw-value', min: -1, max: 1, step: 0.1,
    value: 0, 'aria-label': 'Target value of new points' });
  const targetText = h('output', { class: 'num', for: 'draw-value' });
  target.addEventListener('input', () => { value = Number(target.value); tool = 'add'; render(); });
  const valueField = h('label', { class: 'draw-value' }, 'value ', target, targetText);
  const tools = h('div', { class: 'draw-tools', role: 'group', 'aria-label': 'Drawing tools' },
    h('button', { id: 'draw-add', class: 'ghost', onclick: () => { tool = 'add'; render(); } },
      '+ Add'),
    h('button', { id: 'draw-erase', class: 'ghost', onclick: () => { tool = 'erase'; render(); } },
      '⌫ Erase'),
    h('button', { id: 'draw-undo', class: 'ghost', title: 'Undo (Ctrl+Z)', onclick: () => back() },
      '↶ Undo'),
    h('button', { id: 'draw-redo', class: 'ghost', title: 'Redo (Ctrl+Y)', onclick: () => forth() },
      '↷ Redo'),
    h('button', { id: 'draw-clear', class: 'ghost', onclick: () => commit(empty(draft.task)) },
      'Clear'));
  const status = h('p', { class: 'muted draw-status', id: 'draw-status', 'aria-live': 'polite' });
  const problem = h('p', { class: 'field-error', role: 'alert' });
  const controls = h('div', { class: 'draw-controls', hidden: true },
    h('div', { class: 'draw-row' }, taskSelect, swatches, valueField), tools, status);
  el.append(h('h2', { text: 'Draw' }), toggle, controls, problem);
  const unregister = store.errors.register('data.drawn', {
    show: (m) => { problem.textContent = m; }, clear: () => { problem.textContent = ''; },
  });

  // The drawing surface: a canvas over the Output plane, taking input only while drawing.
  const overlay = h('canvas', { class: 'draw-overlay', id: 'draw-plane', tabindex: -1,
    role: 'application', 'aria-label': 'Drawing plane: arrow keys move the cursor, Enter adds '
      + 'a point, Delete erases, 1–5 pick a class, Ctrl+Z undoes, Ctrl+Y redoes' });
  const plot = /** @type {HTMLElement|null} */ (document.querySelector('#output .plot'));
  plot?.append(overlay);

  const extent = () => {
    const run = store.state.run;
    return run && run.spec?.data?.kind === 'drawn' && run.data?.extent ? run.data.extent : EXTENT;
  };
  const sizeOf = () => overlay.getBoundingClientRect();

  /** Plane coordinates of a pointer event. */
  function planeAt(event) {
    const box = sizeOf();
    const [x0, x1, y0, y1] = extent();
    return [clamp(x0 + ((event.clientX - box.left) / box.width) * (x1 - x0)),
      clamp(y1 - ((event.clientY - box.top) / box.height) * (y1 - y0))];
  }

  function add(d, [x, y]) {
    d.x1.push(x); d.x2.push(y); d.value.push(value);
  }

  function erase(d, [x, y]) {
    for (let i = d.x1.length - 1; i >= 0; i--) {
      if (Math.hypot(d.x1[i] - x, d.x2[i] - y) <= ERASE_RADIUS) {
        d.x1.splice(i, 1); d.x2.splice(i, 1); d.value.splice(i, 1);
      }
    }
  }

  function apply(d) {
    draft = d;
    render();
    if (d.x1.length < 2) return; // nothing to train and test on yet: the plane shows it
    const spec = store.state.spec;
    const classification = d.task === 'classification';
    const classes = classification ? Math.max(2, ...d.value.map((v) => v + 1)) : spec.data.classes;
    const current = spec.loss.kind;
    const fits = classification ? ['cross_entropy', 'bce'] : ['mse', 'huber'];
    const loss = fits.includes(current) && (current !== 'bce' || classes === 2) ? current : fits[0];
    store.editMany([['data.kind', 'drawn'], ['data.table', null], ['data.classes', classes],
      ['data.drawn', copy(d)], ['loss.kind', loss]]);
    store.announce(`${d.x1.length} points drawn; the run restarts on them`);
  }

  function commit(d) {
    undo.push(copy(draft));
    redo.length = 0;
    apply(d);
  }
  function back() {
    if (!undo.length) return;
    redo.push(copy(draft));
    apply(/** @type {Drawing} */ (undo.pop()));
  }
  function forth() {
    if (!redo.length) return;
    undo.push(copy(draft));
    apply(/** @type {Drawing} */ (redo.pop()));
  }

  function setDrawing(on) {
    drawing = on;
    const data = store.state.spec.data;
    if (on && data.kind === 'drawn' && data.drawn) draft = copy(data.drawn);
    if (on) overlay.focus();
    render();
  }

  // --- pointer: mouse, pen and touch alike ----------------------------------------------
  let last = null;
  overlay.addEventListener('pointerdown', (event) => {
    if (!drawing) return;
    event.preventDefault();
    overlay.focus();
    overlay.setPointerCapture(event.pointerId);
    stroke = copy(draft);
    last = planeAt(event);
    if (tool === 'add') add(draft, last); else erase(draft, last);
    paint();
  });
  overlay.addEventListener('pointermove', (event) => {
    if (!stroke) return;
    const at = planeAt(event);
    if (tool === 'erase') { erase(draft, at); paint(); return; }
    if (Math.hypot(at[0] - last[0], at[1] - last[1]) < SPACING) return;
    add(draft, at);
    last = at;
    paint();
  });
  const finish = () => {
    if (!stroke) return;
    const before = stroke;
    stroke = null;
    undo.push(before);
    redo.length = 0;
    apply(draft);
  };
  overlay.addEventListener('pointerup', finish);
  overlay.addEventListener('pointercancel', finish);

  // --- keyboard -------------------------------------------------------------------------
  overlay.addEventListener('keydown', (event) => {
    if (!drawing) return;
    const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, STEP],
      ArrowDown: [0, -STEP] };
    const key = event.key.toLowerCase();
    if (event.key in moves) {
      const [dx, dy] = moves[event.key];
      cursor = [clamp(cursor[0] + dx), clamp(cursor[1] + dy)];
    } else if (event.key === 'Enter' || event.key === ' ') {
      const next = copy(draft);
      add(next, cursor);
      commit(next);
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      const next = copy(draft);
      erase(next, cursor);
      commit(next);
    } else if ((event.ctrlKey || event.metaKey) && key === 'z') {
      if (event.shiftKey) forth(); else back();
    } else if ((event.ctrlKey || event.metaKey) && key === 'y') {
      forth();
    } else if (/^[1-5]$/.test(event.key) && draft.task === 'classification') {
      value = Number(event.key) - 1;
      tool = 'add';
      render();
    } else {
      return;
    }
    event.preventDefault();
    paint();
  });

  // --- drawing ----------------------------------------------------------------------------
  function paint() {
    const box = sizeOf();
    const dpr = window.devicePixelRatio || 1;
    overlay.width = Math.round(box.width * dpr);
    overlay.height = Math.round(box.height * dpr);
    const ctx = /** @type {CanvasRenderingContext2D} */ (overlay.getContext('2d'));
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (!drawing) return;
    const [x0, x1, y0, y1] = extent();
    const px = (x) => ((x - x0) / (x1 - x0)) * overlay.width;
    const py = (y) => ((y1 - y) / (y1 - y0)) * overlay.height;
    const colour = (v) => (draft.task === 'classification' ? classColor(v, MAX_CLASSES)
      : divergingCss(((v + 1) / 2) * 255));
    ctx.lineWidth = 1.5 * dpr;
    ctx.strokeStyle = '#222';
    draft.x1.forEach((x, i) => {
      ctx.beginPath();
      ctx.arc(px(x), py(draft.x2[i]), 4 * dpr, 0, Math.PI * 2);
      ctx.fillStyle = colour(draft.value[i]);
      ctx.fill();
      ctx.stroke();
    });
    if (document.activeElement === overlay) { // the keyboard's cursor
      const [cx, cy] = [px(cursor[0]), py(cursor[1])];
      ctx.strokeStyle = tool === 'erase' ? '#c0392b' : '#111';
      ctx.beginPath();
      ctx.moveTo(cx - 8 * dpr, cy); ctx.lineTo(cx + 8 * dpr, cy);
      ctx.moveTo(cx, cy - 8 * dpr); ctx.lineTo(cx, cy + 8 * dpr);
      ctx.stroke();
    }
  }
  overlay.addEventListener('focus', paint);
  overlay.addEventListener('blur', paint);

  function render() {
    const classification = draft.task === 'classification';
    toggle.setAttribute('aria-pressed', String(drawing));
    toggle.textContent = drawing ? '✓ Done drawing' : '✎ Draw points';
    controls.hidden = !drawing;
    overlay.classList.toggle('active', drawing);
    overlay.tabIndex = drawing ? 0 : -1;
    overlay.dataset.points = String(draft.x1.length);
    taskSelect.value = draft.task;
    swatches.hidden = !classification;
    valueField.hidden = classification;
    targetText.textContent = value.toFixed(1);
    classButtons.forEach((b, k) => b.setAttribute('aria-checked', String(classification
      && tool === 'add' && value === k)));
    for (const [id, on] of [['draw-add', tool === 'add'], ['draw-erase', tool === 'erase']]) {
      el.querySelector(`#${id}`)?.setAttribute('aria-pressed', String(on));
    }
    /** @type {HTMLButtonElement} */ (el.querySelector('#draw-undo')).disabled = !undo.length;
    /** @type {HTMLButtonElement} */ (el.querySelector('#draw-redo')).disabled = !redo.length;
    const n = draft.x1.length;
    status.textContent = n < 2 ? `${n} point${n === 1 ? '' : 's'}: draw at least 2 to train`
      : `${n} points · click to add, drag to paint`;
    paint();
  }

  /** @param {import('../types.js').AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (changes.has('spec') && !drawing && state.spec.data.kind === 'drawn' && state.spec.data.drawn) {
      draft = copy(state.spec.data.drawn);
    }
    if (changes.has('run') || changes.has('spec')) render();
  }

  render();
  return { update, destroy: () => { unregister(); overlay.remove(); el.replaceChildren(); } };
}
