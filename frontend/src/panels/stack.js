/**
 * The stack's parts that hold no state: block labels, notes on stacks that are valid but
 * probably not meant, the palette, and where a dragged block would land.
 */

import { h } from '../fields.js';

/** The schema definition of each block type. */
const DEFS = { linear: 'LinearLayer', activation: 'ActivationLayer', dropout: 'DropoutLayer',
  batchnorm: 'BatchNormLayer', layernorm: 'LayerNormLayer' };
const FN_LABELS = { relu: 'ReLU', leaky_relu: 'LeakyReLU', prelu: 'PReLU', elu: 'ELU',
  gelu: 'GELU', silu: 'SiLU', sigmoid: 'Sigmoid', tanh: 'Tanh', softplus: 'Softplus',
  identity: 'Identity' };

/** A block's short label ("Linear 8", "Tanh", "Dropout 0.5"). */
export function blockLabel(layer) {
  switch (layer.type) {
    case 'linear': return `Linear ${layer.units}`;
    case 'activation': return FN_LABELS[layer.fn] || layer.fn;
    case 'dropout': return `Dropout ${layer.p}`;
    case 'batchnorm': return 'BatchNorm';
    case 'layernorm': return 'LayerNorm';
    default: return layer.type;
  }
}

/** Notes on stacks that are valid but probably not meant ("explained where they are"). */
export function notes(layers) {
  /** @type {[number, string][]} */
  const found = [];
  layers.forEach((layer, i) => {
    const prev = layers[i - 1];
    if (!prev) return;
    if (layer.type === 'activation' && prev.type === 'activation') {
      found.push([i, 'two activations in a row: the second acts on the first\'s output']);
    }
    if (layer.type === 'linear' && prev.type === 'linear') {
      found.push([i, 'two Linears in a row compose to one linear map: add an activation']);
    }
  });
  if (layers.length && !layers.some((l) => l.type === 'linear')) {
    found.push([-1, 'no hidden Linear: the output layer sees the inputs directly']);
  } else if (!layers.length) {
    found.push([-1, 'no hidden layers: a linear model (logistic or linear regression)']);
  }
  return found;
}

/**
 * The palette: a button per block type and per activation (the schema's list), each making
 * a block from the schema's defaults.
 * @param {import('../app.js').Store} store
 * @param {(make: () => object) => void} add click or Enter on an item
 * @param {(button: HTMLElement, make: () => object) => void} makeDraggable
 */
export function makePalette(store, add, makeDraggable) {
  const fns = store.schema.options('network.layers.0.fn',
    { network: { layers: [{ type: 'activation' }] } });
  const defaults = (type, extra = {}) => () => ({ ...store.schema.defaults(DEFS[type]), ...extra });
  const item = (make, label, kind) => {
    const button = h('button', { class: `block palette-item kind-${kind}`, 'data-block': label,
      title: `Add ${label} (drag into the network, or press Enter)` }, label);
    button.addEventListener('click', () => add(make));
    makeDraggable(button, make);
    return button;
  };
  return h('div', { class: 'palette', role: 'group', 'aria-label': 'Blocks' },
    h('span', { class: 'palette-title', text: 'Layers' }),
    item(defaults('linear'), 'Linear', 'linear'),
    item(defaults('dropout'), 'Dropout', 'dropout'),
    item(defaults('batchnorm'), 'BatchNorm', 'norm'),
    item(defaults('layernorm'), 'LayerNorm', 'norm'),
    h('span', { class: 'palette-title', text: 'Activations' }),
    ...fns.map((fn) => item(defaults('activation', { fn }), FN_LABELS[fn] || fn, 'activation')));
}

/** The colour family of a block. */
export function blockKind(layer) {
  if (layer.type === 'activation' || layer.type === 'linear' || layer.type === 'dropout') {
    return layer.type;
  }
  return 'norm';
}

/**
 * Where a pointer at (x, y) would drop into the stack: the index to insert at and the block
 * it lands before (or after, at the end); null when the pointer is outside the stack.
 * Blocks wrap in rows, so "before" means an earlier row, or this row and left of centre.
 */
export function dropTarget(zone, list, x, y) {
  const box = zone.getBoundingClientRect();
  const pad = 12;
  if (x < box.left - pad || x > box.right + pad || y < box.top - pad || y > box.bottom + pad) {
    return null;
  }
  const all = [...list.children];
  const blocks = all.filter((b) => !b.classList.contains('drag-source'));
  for (const block of blocks) {
    const r = block.getBoundingClientRect();
    if (y < r.top - 4 || (y <= r.bottom + 4 && x < r.left + r.width / 2)) {
      return { index: all.indexOf(block), rect: r, after: false };
    }
  }
  const last = blocks[blocks.length - 1];
  return { index: all.length, rect: last?.getBoundingClientRect(), after: true };
}

/** Show the insertion marker for a drop target (hide it for none). */
export function placeMarker(marker, zone, list, at) {
  marker.hidden = at === null;
  if (at === null) return;
  const box = zone.getBoundingClientRect();
  const r = at.rect || list.getBoundingClientRect();
  marker.style.left = `${(at.after ? r.right + 3 : r.left - 5) - box.left}px`;
  marker.style.top = `${r.top - box.top}px`;
  marker.style.height = `${r.height || 32}px`;
}
