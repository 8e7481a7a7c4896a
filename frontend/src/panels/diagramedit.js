/**
 * Direct manipulation on the network diagram, as in TensorFlow Playground and a little beyond:
 * a link's weight reads on hover and is edited by click (a `set_weight` message: the run on
 * show, in a comparison too, goes on from the new value, and its next frame draws it); an
 * input neuron is switched off by click and an off input switched on from the row under the
 * inputs; each hidden Linear column has − / + for its units and × to remove it, and "+ layer"
 * adds one before the output. All of it works by keyboard: Tab reaches every neuron and
 * button, the links canvas takes arrow keys (pick a weight) and Enter (edit it).
 */

import { h } from '../fields.js';
import { fmtNum } from '../chartkit.js';
import { featureLabel } from './data.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

/** px from a link's curve within which the pointer reads it (a finger: NEAR_TOUCH). */
const NEAR = 5;
const NEAR_TOUCH = 12;
/** Points sampled along each link's curve for hit-testing. */
const SAMPLES = 14;
/** Past this many drawn links, hovering reads none (the diagram is a texture by then). */
const MAX_HIT_LINKS = 4000;

/** Why weights cannot be edited now, or '' when they can. */
export function weightLock(state) {
  if (state.recorded) return 'A saved experiment is read-only: Fork it to edit weights.';
  if (!state.run || state.run.recorded) return 'No run yet.';
  return '';
}

/**
 * Every drawn link with its geometry: {layer, row, col, value, from, to, points}.
 * @param {{cols: any[], size: number}} layout @param {any} frame
 */
export function linkList(layout, frame) {
  const { cols, size } = layout;
  const byLayer = new Map(frame.links.map((l) => [l.layer, l]));
  const out = [];
  for (let c = 0; c + 1 < cols.length; c++) {
    const from = cols[c];
    const to = cols[c + 1];
    const link = byLayer.get(to.layer);
    if (!link) continue;
    const [rows, inn] = link.shape;
    for (let j = 0; j < to.shown && j < rows; j++) {
      for (let i = 0; i < from.shown && i < inn; i++) {
        const x1 = from.x + size;
        const y1 = from.ys[i] + size / 2;
        const x2 = to.x;
        const y2 = to.ys[j] + size / 2;
        out.push({ layer: to.layer, row: j, col: i, value: link.values[j * inn + i],
          from: c, to: c + 1, x1, y1, x2, y2 });
      }
    }
  }
  return out;
}

/** A point of the link's curve (the cubic the diagram draws) at t in [0, 1]. */
function along(l, t) {
  const mid = (l.x1 + l.x2) / 2;
  const u = 1 - t;
  const x = u * u * u * l.x1 + 3 * u * u * t * mid + 3 * u * t * t * mid + t * t * t * l.x2;
  const y = u * u * u * l.y1 + 3 * u * u * t * l.y1 + 3 * u * t * t * l.y2 + t * t * t * l.y2;
  return [x, y];
}

/** The link nearest to (x, y) within `near` px, or null. */
export function linkAt(list, x, y, near = NEAR) {
  if (list.length > MAX_HIT_LINKS) return null;
  let best = null;
  let bestD = near * near;
  for (const l of list) {
    if (x < Math.min(l.x1, l.x2) - near || x > Math.max(l.x1, l.x2) + near) continue;
    for (let s = 0; s <= SAMPLES; s++) {
      const [px, py] = along(l, s / SAMPLES);
      const d = (px - x) ** 2 + (py - y) ** 2;
      if (d < bestD) { bestD = d; best = l; }
    }
  }
  return best;
}

/** Words for one link: "weight 0.42 from X₁ to linear 4 unit 2". */
export function linkText(l, cols, summary) {
  const from = cols[l.from];
  const to = cols[l.to];
  const src = from.kind === 'input' ? featureLabel(summary.features[l.col])
    : `${from.title} unit ${l.col + 1}`;
  const dst = to.kind === 'output' ? `output ${l.row + 1}` : `${to.title} unit ${l.row + 1}`;
  return `weight ${fmtNum(l.value)} from ${src} to ${dst}`;
}

/**
 * The weight readout and editor over the links canvas. Returns {refresh(layout, state)}:
 * call it after each (re)draw so hover and the selected link follow the new values.
 * @param {HTMLElement} box @param {HTMLCanvasElement} canvas @param {Store} store
 */
export function weightEditing(box, canvas, store) {
  const tip = h('div', { class: 'link-tip', role: 'status', hidden: true });
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'number', step: 'any',
    min: -100, max: 100, 'aria-label': 'New weight' }));
  const editor = h('form', { class: 'link-editor', hidden: true }, input,
    h('button', { type: 'submit', class: 'small', text: 'Set' }),
    h('button', { type: 'button', class: 'small', text: 'Cancel', onclick: () => close() }));
  box.append(tip, editor);
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'application');
  canvas.setAttribute('aria-label', 'Weights: hover or use the arrow keys to read one, ' +
    'click or press Enter to edit it');
  /** @type {any[]} */
  let list = [];
  /** @type {any} */
  let layout = null;
  /** @type {any} */
  let shown = null; // the link read out (hovered or picked by keyboard)
  let picked = -1;
  /** @type {any} */
  let editing = null;

  function show(l, x, y) {
    shown = l;
    if (!l) { tip.hidden = true; return; }
    const state = store.state;
    tip.textContent = `${linkText(l, layout.cols, state.run.summary)}` +
      (weightLock(state) ? '' : ' · click to edit');
    tip.hidden = false;
    tip.style.left = `${Math.min(x + 12, box.clientWidth - 200)}px`;
    tip.style.top = `${Math.max(0, y - 30)}px`;
    canvas.dataset.weight = `${l.layer}:${l.row}:${l.col}`;
  }

  function open(l) {
    const lock = weightLock(store.state);
    if (lock) { store.announce(lock); tip.textContent = lock; tip.hidden = false; return; }
    // the run on show when the link was clicked: the edit goes to it whatever is shown later
    const state = store.state;
    editing = { ...l, variant: state.run?.variant ?? 0,
      label: state.runs.length > 1 ? state.runs[state.selected]?.label : null };
    input.value = String(Number(l.value.toPrecision(4)));
    const [x, y] = along(l, 0.5);
    editor.style.left = `${Math.min(x, box.clientWidth - 190)}px`;
    editor.style.top = `${y + 8}px`;
    editor.hidden = false;
    input.focus();
    input.select();
  }

  function close() {
    editor.hidden = true;
    editing = null;
    canvas.focus();
  }

  editor.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.valueAsNumber;
    if (!editing || !Number.isFinite(value) || Math.abs(value) > 100) {
      input.setCustomValidity('A number from -100 to 100');
      input.reportValidity();
      return;
    }
    input.setCustomValidity('');
    store.setWeight(editing.variant, editing.layer, editing.row, editing.col, value);
    store.announce(`Weight set to ${fmtNum(value)}${editing.label ? ` in ${editing.label}` : ''}`);
    close();
  });
  editor.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });

  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  canvas.addEventListener('pointermove', (e) => {
    if (!layout) return;
    const [x, y] = local(e);
    show(linkAt(list, x, y), x, y);
    canvas.style.cursor = shown ? 'pointer' : '';
  });
  canvas.addEventListener('pointerleave', () => { if (picked < 0) show(null, 0, 0); });
  // A tap lands less exactly than a mouse: it picks a link from further away.
  let touch = false;
  canvas.addEventListener('pointerdown', (e) => { touch = e.pointerType === 'touch'; });
  canvas.addEventListener('click', (e) => {
    const [x, y] = local(e);
    const l = layout && linkAt(list, x, y, touch ? NEAR_TOUCH : NEAR);
    if (l) open(l);
  });
  canvas.addEventListener('keydown', (e) => {
    if (!list.length) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (step) {
      e.preventDefault();
      picked = (picked + step + list.length) % list.length;
      const [x, y] = along(list[picked], 0.5);
      show(list[picked], x, y);
    } else if ((e.key === 'Enter' || e.key === ' ') && picked >= 0) {
      e.preventDefault();
      open(list[picked]);
    }
  });
  canvas.addEventListener('blur', () => { picked = -1; if (!editing) show(null, 0, 0); });

  return {
    /** New geometry or values: keep the readout on the same link, with its new value. */
    refresh(newLayout, state) {
      layout = newLayout;
      list = state.frame ? linkList(layout, state.frame) : [];
      // Pointer events on the canvas: it lies under the neurons, above nothing else.
      canvas.style.pointerEvents = 'auto';
      if (shown) {
        const same = list.find((l) => l.layer === shown.layer && l.row === shown.row &&
          l.col === shown.col);
        if (same && !tip.hidden) {
          shown = same;
          tip.textContent = linkText(same, layout.cols, state.run.summary) +
            (weightLock(state) ? '' : ' · click to edit');
        }
        if (picked >= 0) picked = same ? list.indexOf(same) : -1;
      }
    },
  };
}

/**
 * The edits a diagram column offers: − / + units and × (remove) for a hidden Linear column.
 * @param {any} col @param {AppState} state @param {Store} store
 */
export function columnButtons(col, state, store) {
  const spec = state.spec;
  const layers = spec?.network?.layers;
  if (col.kind !== 'hidden' || !layers || layers[col.layer]?.type !== 'linear') return [];
  const path = `network.layers.${col.layer}.units`;
  const node = store.schema.node(path, spec);
  const units = layers[col.layer].units;
  const button = (text, label, onclick, disabled) => h('button', { type: 'button',
    class: 'col-edit', text, 'aria-label': label, title: label, disabled, onclick });
  const name = `layer ${col.layer + 1}`;
  return [
    button('−', `One unit fewer in ${name} (${units})`, () => store.edit(path, units - 1),
      units <= (node?.minimum ?? 1)),
    button('+', `One unit more in ${name} (${units})`, () => store.edit(path, units + 1),
      units >= (node?.maximum ?? Infinity)),
    button('×', `Remove ${name} and the layers after it up to the next Linear`,
      () => store.edit('network.layers', withoutLayer(layers, col.layer)), false),
  ];
}

/** The layers without the Linear at `index` and what follows it up to the next Linear. */
function withoutLayer(layers, index) {
  let end = index + 1;
  while (end < layers.length && layers[end].type !== 'linear') end++;
  return [...layers.slice(0, index), ...layers.slice(end)];
}

/** The layers with one more hidden Linear (and the last activation used) at the end. */
export function withLayer(store, layers) {
  const linear = store.schema.defaults('LinearLayer');
  const lastLinear = [...layers].reverse().find((l) => l.type === 'linear');
  const lastFn = [...layers].reverse().find((l) => l.type === 'activation');
  const activation = { ...store.schema.defaults('ActivationLayer'), ...(lastFn ?? {}) };
  return [...layers, { ...linear, units: lastLinear?.units ?? linear.units }, activation];
}

/**
 * Input switches: an active input neuron turns its feature off (Enter, Space or click), and
 * a row of the inactive ones turns them on. Only where the network's inputs are the spec's
 * `features.inputs` (the 2-D sets); returns null elsewhere.
 * @param {AppState} state @param {Store} store
 */
export function inputSwitches(state, store) {
  const spec = state.spec;
  const inputs = spec?.features?.inputs;
  const summary = state.run?.summary;
  if (!inputs || !summary || JSON.stringify(summary.features) !== JSON.stringify(inputs)) {
    return null;
  }
  const all = store.schema.options('features.inputs', spec);
  const off = all.filter((f) => !inputs.includes(f));
  return {
    /** Turn an active input off (not the last one). */
    remove(name) {
      if (inputs.length <= 1) {
        store.announce('The network needs at least one input.');
        return;
      }
      store.edit('features.inputs', inputs.filter((f) => f !== name));
    },
    /** Buttons for the inputs that are off. */
    offButtons: off.map((name) => h('button', { type: 'button', class: 'input-off small',
      text: `+ ${featureLabel(name)}`, title: `Use ${featureLabel(name)} as an input`,
      'aria-label': `Turn input ${featureLabel(name)} on`,
      onclick: () => store.edit('features.inputs', all.filter((f) => f === name ||
        inputs.includes(f))) })),
  };
}
