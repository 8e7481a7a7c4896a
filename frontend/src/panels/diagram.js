/**
 * The network diagram: one column per Linear layer (inputs first, output last), each neuron a
 * small heatmap of what it computes over the input plane (1-D sets: a small curve), links
 * coloured by the weight's sign and thickened by its size. Everything updates each frame;
 * hovering or focusing a neuron shows its map large in the output panel. Editing on the
 * diagram itself (weights, inputs, units, layers) is in diagramedit.js.
 *
 * Links go on one canvas, redrawn in a few batched paths (one per colour and width band), so
 * a thousand links cost a handful of strokes.
 */

import { h } from '../fields.js';
import { BLUE, ORANGE, classColor, css, paintCurve, paintMap } from '../colors.js';
import { featureLabel } from './data.js';
import {
  columnButtons, inputSwitches, weightEditing, weightLock, withLayer,
} from './diagramedit.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const TOP = 62; // px for column titles and their buttons (more where they wrap: build)
const LEFT = 46; // px for input feature labels
const RIGHT = 56; // px for output labels
const MANY_INPUTS = 12; // more inputs than this get a compact column of their own
const MAX_NEURON = 72; // px, a neuron's map at most

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const links = h('canvas', { class: 'links' });
  const layer = h('div', { class: 'neurons' });
  const empty = h('p', { class: 'muted diagram-empty', text: 'Waiting for the first frame…' });
  const addLayer = h('button', { type: 'button', id: 'add-layer', class: 'small',
    text: '+ layer', title: 'Add a hidden Linear layer (and an activation) before the output',
    onclick: () => store.edit('network.layers', withLayer(store, store.state.spec.network.layers)) });
  const offInputs = h('span', { class: 'inputs-off', 'aria-label': 'Inputs that are off' });
  const tools = h('div', { class: 'diagram-tools' }, addLayer, offInputs);
  el.append(h('h2', { text: 'Neurons' }), tools,
    h('div', { class: 'diagram-box' }, links, layer, empty));
  const box = /** @type {HTMLElement} */ (links.parentElement);
  const weights = weightEditing(box, links, store);

  /** @type {{key: string, cols: any[], size: number, width: number, height: number}|null} */
  let layout = null;
  /** @type {HTMLCanvasElement[][]} */
  let canvases = [];

  /** Columns of the diagram for a frame: its neuron columns plus the output. */
  function columnsOf(state) {
    const { frame, run } = state;
    const layers = run.summary.layers;
    const out = layers.length - 1;
    const cols = frame.neurons.map((n, c) => {
      const end = c + 1 < frame.neurons.length ? frame.neurons[c + 1].layer : out;
      const after = layers.slice(n.layer + 1, end).map((l) => l.name);
      const title = n.kind === 'input' ? 'Inputs' : [layers[n.layer].name, ...after].join(' · ');
      return { kind: n.kind, layer: n.layer, units: n.units, shown: n.shown, title };
    });
    const outputs = run.summary.output_dim;
    cols.push({ kind: 'output', layer: out, units: outputs, shown: outputs, title: 'Output' });
    return cols;
  }

  /** Lay the diagram out; `top`: px above the neurons for the column titles. */
  function build(state, top = TOP) {
    // The neuron under the pointer is about to be replaced, and a removed element never
    // hears pointerleave: forget the hover rather than keep showing a stale map.
    if (state.hover) store.setHover(null);
    const cols = columnsOf(state);
    const width = box.clientWidth;
    const height = box.clientHeight;
    // Neurons as large as the box allows (up to MAX_NEURON), so the panel's space shows maps
    // rather than margins: limited by the tallest column and by the room between columns.
    // Many inputs (a wide table) are drawn as a compact column of their own, so that the
    // hidden layers keep their size.
    const fits = (shown) => Math.max(6, Math.min(MAX_NEURON, Math.floor((height - top - 10)
      / (shown * 1.18))));
    const compact = (col) => col.kind === 'input' && col.shown > MANY_INPUTS;
    const maxShown = Math.max(1, ...cols.filter((c) => !compact(c)).map((c) => c.shown));
    const size = Math.max(6, Math.min(fits(maxShown),
      Math.floor((width - LEFT - RIGHT) / (cols.length * 2.4))));
    const span = width - LEFT - RIGHT - size;
    cols.forEach((col, c) => {
      col.size = compact(col) ? Math.min(size, fits(col.shown)) : size;
      col.x = LEFT + (cols.length > 1 ? (c * span) / (cols.length - 1) : span / 2)
        + (size - col.size);
      const gap = col.size * 1.18;
      const first = top + (height - top - 6 - col.shown * gap) / 2;
      col.ys = Array.from({ length: col.shown }, (_, j) => first + j * gap);
    });
    const dpr = window.devicePixelRatio || 1;
    links.width = width * dpr;
    links.height = height * dpr;
    const nodes = [];
    canvases = [];
    const summary = state.run.summary;
    const frame = state.frame;
    const switches = state.recorded ? null : inputSwitches(state, store);
    offInputs.replaceChildren(...(switches?.offButtons ?? []));
    const locked = weightLock(state);
    addLayer.disabled = Boolean(state.recorded) || state.spec.network.layers.length + 2 >
      (store.schema.node('network.layers', state.spec)?.maxItems ?? Infinity);
    tools.hidden = Boolean(state.recorded);
    links.title = locked || '';
    cols.forEach((col, c) => {
      const room = cols.length > 1 ? span / (cols.length - 1) - 8 : 150;
      const title = h('div', { class: 'col-title',
        style: `left:${col.x + size / 2}px;max-width:${Math.max(40, Math.min(150, room))}px`,
        'data-column': c },
        h('span', { text: col.title }),
        col.units > col.shown ? h('small', { text: ` (${col.shown} of ${col.units})` }) : null,
        state.recorded ? null : h('span', { class: 'col-edits' },
          ...columnButtons(col, state, store)));
      nodes.push(title);
      canvases.push(col.ys.map((y, j) => {
        const style = `left:${col.x}px;top:${y}px;width:${col.size}px;height:${col.size}px`;
        if (col.kind === 'output') {
          const label = summary.task === 'regression' ? 'ŷ' : `class ${j}`;
          nodes.push(h('div', { class: 'out-node', style, title: `output ${label}` },
            h('span', { class: 'swatch', style: `background:${summary.task === 'regression'
              ? '#777' : classColor(summary.output_dim === 1 ? 1 : j, summary.classes)}` })),
          h('span', { class: 'node-label right', text: label,
            style: `left:${col.x + size + 4}px;top:${y + size / 2 - 8}px` }));
          return null;
        }
        const n = frame.neurons[c];
        const canvas = h('canvas', { class: 'neuron', width: n.width,
          height: n.height === 1 ? 24 : n.height, style, 'data-column': c, 'data-unit': j,
          title: col.kind === 'input' ? `input ${featureLabel(summary.features[j])}`
            : `${col.title}, unit ${j + 1}: hover to see it over the data` });
        canvas.addEventListener('pointerenter', () => {
          if (!document.body.classList.contains('dragging')) store.setHover({ column: c, unit: j });
        });
        canvas.addEventListener('pointerleave', () => store.setHover(null));
        // Keyboard and touch: a focused neuron shows its map as hovering does.
        canvas.tabIndex = 0;
        canvas.addEventListener('focus', () => store.setHover({ column: c, unit: j }));
        canvas.addEventListener('blur', () => store.setHover(null));
        if (col.kind === 'input' && switches) {
          const name = summary.features[j];
          canvas.setAttribute('role', 'button');
          canvas.setAttribute('aria-label', `Input ${featureLabel(name)}: press to turn it off`);
          canvas.title = `input ${featureLabel(name)}: click to turn it off`;
          canvas.addEventListener('click', () => switches.remove(name));
          canvas.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); switches.remove(name); }
          });
        } else {
          canvas.setAttribute('aria-label', canvas.title);
        }
        nodes.push(canvas);
        if (col.kind === 'input') {
          nodes.push(h('span', { class: 'node-label left', text: featureLabel(summary.features[j]),
            style: `right:${box.clientWidth - col.x + 4}px;top:${y + col.size / 2 - 8}px` }));
        }
        return canvas;
      }));
    });
    layer.replaceChildren(...nodes);
    layout = { key: layoutKey(state), cols, size, width, height, top };
    // On a narrow diagram a column's title and its − / + / × wrap onto more lines than TOP
    // holds: lay out once more with the neurons below the tallest title.
    const tallest = Math.max(0, ...[...layer.querySelectorAll('.col-title')].map(
      (t) => /** @type {HTMLElement} */ (t).offsetHeight));
    if (top === TOP && tallest + 6 > top) build(state, tallest + 6);
  }

  const layoutKey = (state) => [state.run.session, box.clientWidth, box.clientHeight,
    Boolean(state.recorded), JSON.stringify(state.spec?.network.layers),
    JSON.stringify(state.spec?.features.inputs),
    ...state.frame.neurons.map((n) => `${n.layer}:${n.shown}:${n.height}`)].join('|');

  function paintNeurons(frame) {
    frame.neurons.forEach((n, c) => {
      const per = n.height * n.width;
      canvases[c]?.forEach((canvas, j) => {
        if (!canvas) return;
        const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
        const values = n.maps.subarray(j * per, (j + 1) * per);
        if (n.height === 1) paintCurve(ctx, canvas, values);
        else paintMap(ctx, values, n.width, n.height);
      });
    });
  }

  function paintLinks(frame) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (links.getContext('2d'));
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, links.width, links.height);
    if (!layout) return;
    const { cols } = layout;
    const byLayer = new Map(frame.links.map((l) => [l.layer, l]));
    for (let c = 0; c + 1 < cols.length; c++) {
      const from = cols[c];
      const to = cols[c + 1];
      const link = byLayer.get(to.layer);
      if (!link) {
        ctx.fillStyle = '#888';
        ctx.font = '11px system-ui';
        ctx.fillText('too many to draw', (from.x + to.x) / 2 - 30, layout.top - 4 + 14);
        continue;
      }
      const [out, inn] = link.shape;
      /** @type {Map<string, Path2D>} */
      const paths = new Map();
      for (let j = 0; j < to.shown && j < out; j++) {
        for (let i = 0; i < from.shown && i < inn; i++) {
          const w = link.values[j * inn + i];
          const band = Math.min(10, Math.round(Math.sqrt(Math.abs(w)) * 4));
          const key = `${w >= 0 ? 1 : 0}:${band}`;
          let path = paths.get(key);
          if (!path) { path = new Path2D(); paths.set(key, path); }
          const x1 = from.x + from.size;
          const y1 = from.ys[i] + from.size / 2;
          const x2 = to.x;
          const y2 = to.ys[j] + to.size / 2;
          const mid = (x1 + x2) / 2;
          path.moveTo(x1, y1);
          path.bezierCurveTo(mid, y1, mid, y2, x2, y2);
        }
      }
      for (const [key, path] of paths) {
        const [positive, band] = key.split(':').map(Number);
        ctx.strokeStyle = css(positive ? BLUE : ORANGE, 0.35 + band * 0.05);
        ctx.lineWidth = 0.4 + band * 0.45;
        ctx.stroke(path);
      }
    }
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!state.frame || !state.run) return;
    last = state;
    if (!changes.has('frame') && !changes.has('run')) return;
    empty.hidden = true;
    if (!layout || layout.key !== layoutKey(state)) build(state);
    paintNeurons(state.frame);
    paintLinks(state.frame);
    if (layout) weights.refresh(layout, state);
  }

  // A resize (the builder above grew, the window changed) re-lays the diagram out at once,
  // even while paused, when no frame will come to do it.
  let last = null;
  const resize = new ResizeObserver(() => {
    layout = null;
    if (last) update(last, new Set(['frame']));
  });
  resize.observe(box);
  return { update, destroy: () => { resize.disconnect(); el.replaceChildren(); } };
}
