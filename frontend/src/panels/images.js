/**
 * Image views of a run on an image set (digits, MNIST, Fashion-MNIST): the first layer's
 * weights as image tiles (one per hidden unit: blue positive, orange negative, each tile
 * scaled to its own largest weight), the confusion matrix with per-class accuracy, and test
 * images with their predicted labels, mistakes first.
 *
 * The server rebuilds the views at most once a second and a frame carries them only when they
 * changed (`images: null` otherwise, docs/protocol.md), so the panel keeps the last views of
 * each variant until a new run starts.
 */

import { h } from '../fields.js';
import { DIVERGING } from '../colors.js';
import { pct } from '../format.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const GAP = 1; // px between tiles in the weight canvas

/** Grey pixels (0 black .. 255 white, drawn dark on light) into a canvas of w x h. */
function paintGrey(canvas, bytes, offset, w, h0) {
  canvas.width = w;
  canvas.height = h0;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const image = ctx.createImageData(w, h0);
  for (let i = 0; i < w * h0; i++) {
    const v = 255 - bytes[offset + i];
    image.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** Every tile in one canvas, laid out in a near-square grid. */
function paintTiles(canvas, tiles) {
  const { shown, height, width, values } = tiles;
  const cols = Math.ceil(Math.sqrt(shown));
  const rows = Math.ceil(shown / cols);
  canvas.width = cols * (width + GAP) - GAP;
  canvas.height = rows * (height + GAP) - GAP;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const image = ctx.createImageData(canvas.width, canvas.height);
  image.data.fill(255);
  for (let t = 0; t < shown; t++) {
    const x0 = (t % cols) * (width + GAP);
    const y0 = Math.floor(t / cols) * (height + GAP);
    for (let i = 0; i < height * width; i++) {
      const byte = values[t * height * width + i];
      const at = ((y0 + Math.floor(i / width)) * canvas.width + x0 + (i % width)) * 4;
      image.data.set(DIVERGING.subarray(byte * 3, byte * 3 + 3), at);
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const note = h('p', { class: 'muted images-note', id: 'images-note' });
  const tileCanvas = h('canvas', { class: 'weight-tiles', id: 'weight-tiles' });
  const tileNote = h('p', { class: 'muted' });
  const confusion = h('table', { class: 'confusion', id: 'confusion' });
  const grid = h('div', { class: 'image-grid', id: 'image-grid' });
  el.append(h('h2', { text: 'Image views' }), note,
    h('div', { class: 'images-row' },
      h('figure', {}, h('figcaption', { text: 'First layer: each unit’s incoming weights as an ' +
        'image (blue +, orange −)' }), tileCanvas, tileNote),
      h('figure', {}, h('figcaption', { text: 'Confusion matrix (rows: true class, columns: ' +
        'predicted) and per-class accuracy' }), confusion)),
    h('figure', {}, h('figcaption', { text: 'Test images with the predicted label, mistakes ' +
      'first (red: wrong, the true label in brackets)' }), grid));

  /** @type {Map<number, any>} the last views received, per variant */
  let views = new Map();
  let drawn = null;
  let run = null;

  function drawConfusion(images) {
    const names = images.class_names;
    const head = h('tr', {}, h('th', { text: '' }), ...names.map((_, j) => h('th', {
      text: String(j), title: names[j] })), h('th', { text: 'acc' }));
    const rows = images.confusion.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      return h('tr', {}, h('th', { text: names[i] === String(i) ? names[i] : `${i} ${names[i]}`,
        class: 'class-name' }),
        ...row.map((n, j) => h('td', { text: n ? String(n) : '', title: `true ${names[i]}, ` +
          `predicted ${names[j]}: ${n}`, class: i === j ? 'diag' : '',
        style: `background:rgba(${i === j ? '8,119,189' : '213,94,0'},${(n / total) * 0.85})` })),
        h('td', { class: 'num per-class', text: pct(images.per_class[i]) }));
    });
    confusion.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  }

  function drawGrid(images) {
    const g = images.grid;
    const per = g.height * g.width;
    grid.replaceChildren(...g.index.map((_, k) => {
      const canvas = h('canvas', { class: 'digit' });
      paintGrey(canvas, g.pixels, k * per, g.width, g.height);
      const wrong = g.predicted[k] !== g.label[k];
      const names = images.class_names;
      return h('figure', { class: wrong ? 'wrong' : 'right' }, canvas,
        h('figcaption', { text: wrong ? `${names[g.predicted[k]]} (${names[g.label[k]]})`
          : names[g.predicted[k]], title: `confidence ${pct(g.confidence[k])}` }));
    }));
  }

  function draw(images, frame) {
    const on = frame.evaluated_on;
    const sample = on?.sample
      ? `Figures between epochs come from a fixed sample (the first ${on.train} training and ` +
        `${on.test} test images); at each epoch’s end the curves’ points take the whole test set ` +
        'and the epoch’s own mini-batches.'
      : 'Figures evaluate the whole training and test sets.';
    note.textContent = `${sample} These views: step ${images.step.toLocaleString('en-US')}, ` +
      `${images.evaluated_on.toLocaleString('en-US')} test images, ` +
      `${images.grid.mistakes.toLocaleString('en-US')} wrong; updated at most once a second.`;
    if (images.tiles) {
      paintTiles(tileCanvas, images.tiles);
      const t = images.tiles;
      tileNote.textContent = t.units > t.shown ? `The first ${t.shown} of ${t.units} units.`
        : `${t.units} units.`;
    }
    tileCanvas.hidden = !images.tiles;
    drawConfusion(images);
    drawGrid(images);
    el.dataset.version = String(images.version);
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (state.run !== run) {
      run = state.run;
      views = new Map();
    }
    el.hidden = !state.run?.data?.image_shape;
    const frame = state.frame;
    if (el.hidden || !frame || !changes.has('frame')) return;
    const variant = frame.variant ?? 0;
    if (frame.images) views.set(variant, frame.images);
    const images = views.get(variant);
    if (images && images !== drawn) {
      drawn = images;
      draw(images, frame);
    }
  }

  return { update, destroy: () => el.replaceChildren() };
}
