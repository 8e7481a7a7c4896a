/**
 * The output panel: what the model computes over the data's window, with the data on top.
 * Two classes: probability on an orange/blue diverging scale; K classes: Okabe-Ito colours
 * faded by confidence; 2-D regression: the predicted surface; 1-D regression: the predicted
 * curve through the points. Test points and a discretised view are toggles. While a neuron
 * is hovered in the diagram, its map is shown here instead, large, over the same data.
 *
 * Two stacked canvases: the heatmap (redrawn per frame) and the points (redrawn only when
 * the data or a toggle changes).
 */

import { h } from '../fields.js';
import {
  BLUE, ORANGE, classColor, css, divergingCss, paintCurve, paintGrid,
} from '../colors.js';
import { fmt, pct } from '../format.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const heat = h('canvas', { class: 'heat', id: 'boundary' });
  const dots = h('canvas', { class: 'dots' });
  const caption = h('div', { class: 'plot-caption', hidden: true });
  const plot = h('div', { class: 'plot' }, heat, dots, caption);
  const axes = h('div', { class: 'axes' });
  const legend = h('div', { class: 'legend' });
  // More than two inputs: which plane through the data is shown, and how much it shows.
  const planeNote = h('p', { class: 'muted plane-note', id: 'plane-note', hidden: true });
  const metrics = h('dl', { class: 'metrics' });
  const toggle = (key, label, id) => {
    const input = h('input', { type: 'checkbox', id });
    input.checked = store.state.view[key];
    input.addEventListener('change', () => store.setView(key, input.checked));
    return h('label', { class: 'chip' }, input, ` ${label}`);
  };
  el.append(h('h2', { text: 'Output' }), metrics, h('div', { class: 'plot-frame' }, plot, axes),
    planeNote, legend, h('div', { class: 'toggles' }, toggle('showTest', 'Show test data', 'show-test'),
      toggle('discrete', 'Discretise output', 'discrete')));

  const grid = document.createElement('canvas'); // the server's grid at its own resolution
  let side = 0;
  let drawnData = null;
  let drawnView = '';

  function fit() {
    const dpr = window.devicePixelRatio || 1;
    side = plot.clientWidth;
    for (const c of [heat, dots]) c.width = c.height = Math.round(side * dpr);
    drawnData = null;
  }

  const toPx = (extent) => {
    const [x0, x1, y0, y1] = extent;
    return [(x) => ((x - x0) / (x1 - x0)) * heat.width,
      (y) => ((y1 - y) / (y1 - y0)) * heat.height];
  };

  function drawPoints(state) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (dots.getContext('2d'));
    ctx.clearRect(0, 0, dots.width, dots.height);
    const { data, summary } = state.run;
    if (data.columns?.length > 2) { // no plane to place D > 2 columns on (yet)
      axes.replaceChildren();
      return;
    }
    const [px, py] = toPx(data.extent);
    const dpr = window.devicePixelRatio || 1;
    const oneD = data.train_x[0]?.length === 1;
    const ys = data.train_y;
    let lo = Infinity;
    let hi = -Infinity;
    for (const y of ys) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
    const color = (y) => (summary.task === 'classification' ? classColor(y, summary.classes)
      : oneD ? css(BLUE) : divergingCss(((y - lo) / (hi - lo || 1)) * 255));
    const r = (oneD ? 2.2 : Math.max(2, Math.min(3.2, 90 / Math.sqrt(ys.length)))) * dpr;
    const draw = (xs, targets, test) => {
      // Test points: a dark ring (2-D), or a hollow orange ring (1-D, where train and test
      // lie on the same curve and filled dots would hide each other).
      ctx.lineWidth = (test ? 1.2 : 1) * dpr;
      ctx.strokeStyle = test ? (oneD ? css(ORANGE) : '#2b2f33') : 'rgba(255,255,255,0.9)';
      xs.forEach((p, i) => {
        ctx.beginPath();
        ctx.arc(px(p[0]), py(oneD ? targets[i] : p[1]), r, 0, Math.PI * 2);
        if (!(oneD && test)) {
          ctx.fillStyle = color(targets[i]);
          ctx.fill();
        }
        ctx.stroke();
      });
    };
    draw(data.train_x, data.train_y, false);
    if (state.view.showTest) draw(data.test_x, data.test_y, true);
    const plane = data.plane;
    planeNote.hidden = !plane;
    if (plane) {
      const shown = data.train_x.length + data.test_x.length;
      const all = plane.train_points + plane.test_points;
      planeNote.textContent = `Plane ${plane.labels[0]} × ${plane.labels[1]} through the data's `
        + `mean, of ${plane.inputs} standardised inputs: it shows `
        + `${Math.round(plane.explained * 100)}% of their variance`
        + (shown < all ? ` · ${shown.toLocaleString()} of ${all.toLocaleString()} points drawn`
          : '');
    }
    const [x0, x1, y0, y1] = data.extent;
    axes.replaceChildren(
      h('span', { class: 'ax x0', text: fmt(x0, 2) }), h('span', { class: 'ax x1', text: fmt(x1, 2) }),
      h('span', { class: 'ax y0', text: fmt(y0, 2) }), h('span', { class: 'ax y1', text: fmt(y1, 2) }));
  }

  function drawGrid(ctx, values, width, height, paint) {
    if (grid.width !== width || grid.height !== height) { grid.width = width; grid.height = height; }
    const g = /** @type {CanvasRenderingContext2D} */ (grid.getContext('2d'));
    const image = g.createImageData(width, height);
    paint(image.data, values);
    g.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = !store.state.view.discrete;
    ctx.drawImage(grid, 0, 0, heat.width, heat.height);
  }

  function drawCurve(ctx, state, xs, ys, colour) {
    const [px, py] = toPx(state.run.data.extent);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2.5 * (window.devicePixelRatio || 1);
    ctx.beginPath();
    let pen = false;
    xs.forEach((x, i) => {
      if (ys[i] === null) { pen = false; return; }
      if (pen) ctx.lineTo(px(x), py(ys[i]));
      else ctx.moveTo(px(x), py(ys[i]));
      pen = true;
    });
    ctx.stroke();
  }

  function drawHeat(state) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (heat.getContext('2d'));
    const { frame, hover } = state;
    const out = frame.output;
    const column = hover ? frame.neurons[hover.column] : null;
    ctx.fillStyle = '#f7f8f9';
    ctx.fillRect(0, 0, heat.width, heat.height);
    caption.hidden = !column && out !== null;
    if (!out) {
      const d = state.run.data;
      caption.textContent = `${d.columns.length} inputs: no 2-D view of the output for this ` +
        `set.${d.image_shape ? ' The image views below show what the network learns.' : ''}`;
      return;
    }
    if (column) {
      const per = column.height * column.width;
      const values = column.maps.subarray(hover.unit * per, (hover.unit + 1) * per);
      const title = document.querySelector(`#diagram .col-title[data-column="${hover.column}"] span`);
      const name = column.kind === 'input'
        ? `input ${state.run.summary.features[hover.unit]}`
        : `${title?.textContent || state.run.summary.layers[column.layer].name}, unit ${hover.unit + 1}`;
      caption.textContent = `${name} · range ±${fmt(column.scale, 2)}`;
      if (column.height === 1) {
        const tmp = h('canvas', { width: heat.width, height: heat.height });
        paintCurve(tmp.getContext('2d'), tmp, values);
        ctx.drawImage(tmp, 0, 0);
      } else {
        drawGrid(ctx, values, column.width, column.height,
          (pixels, v) => paintGrid(pixels, v, { kind: 'value' }));
      }
      return;
    }
    if (out.kind === 'curve') {
      const [, py] = toPx(state.run.data.extent);
      ctx.strokeStyle = '#d5d8dc';
      ctx.beginPath();
      ctx.moveTo(0, py(0));
      ctx.lineTo(heat.width, py(0));
      ctx.stroke();
      drawCurve(ctx, state, out.x, out.y, '#333');
      return;
    }
    drawGrid(ctx, out.values, out.size, out.size, (pixels, values) => paintGrid(pixels, values,
      { kind: out.kind, confidence: out.confidence, classes: out.classes,
        discrete: state.view.discrete }));
  }

  function drawLegend(state) {
    const { summary } = state.run;
    const out = state.frame?.output;
    if (summary.task === 'classification') {
      legend.replaceChildren(...Array.from({ length: summary.classes }, (_, k) =>
        h('span', { class: 'key' }, h('i', { style: `background:${classColor(k,
          summary.classes)}` }), summary.class_names?.[k] ?? `class ${k}`)),
      ...(summary.classes > 2 ? [h('span', { class: 'muted', text: 'paler = less sure' })] : []));
    } else if (out?.kind === 'value') {
      legend.replaceChildren(h('span', { class: 'num', text: fmt(out.low, 2) }),
        h('span', { class: 'bar' }), h('span', { class: 'num', text: fmt(out.high, 2) }));
    } else {
      legend.replaceChildren(h('span', { class: 'key' }, h('i', { style: `background:${css(BLUE)}` }),
        'train'), h('span', { class: 'key' }, h('i', { style: `background:${css(ORANGE)}` }),
        'test'), h('span', { class: 'key' }, h('i', { class: 'line' }), 'prediction'));
    }
  }

  const cells = Object.fromEntries(['test_loss', 'train_loss', 'test_metric', 'train_metric']
    .map((key) => [key, { dt: h('dt'), dd: h('dd', { class: 'num', id: key.replace('_', '-') }) }]));
  metrics.append(...Object.values(cells).map((c) => h('div', {}, c.dt, c.dd)));

  const sampleNote = h('p', { class: 'muted sample-note', id: 'sample-note', hidden: true });
  metrics.after(sampleNote);

  function drawMetrics(frame) {
    const on = frame.evaluated_on;
    sampleNote.hidden = !on?.sample;
    if (on?.sample) {
      sampleNote.textContent = `Between epochs: a fixed sample of ${on.train} training and ` +
        `${on.test} test points; at each epoch's end the whole test set and the epoch's ` +
        'mini-batches (the curves).';
    }
    const metric = frame.metric === 'r2' ? 'R²' : 'accuracy';
    const show = frame.metric === 'r2' ? (v) => fmt(v, 3) : pct;
    for (const [key, cell] of Object.entries(cells)) {
      const [set, what] = key.split('_');
      cell.dt.textContent = `${set === 'test' ? 'Test' : 'Train'} ${what === 'loss' ? 'loss' : metric}`;
      cell.dd.textContent = what === 'loss' ? fmt(frame[key], 3) : show(frame[key]);
      cell.dd.dataset.value = String(frame[key]);
    }
  }

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!state.run) return;
    last = state;
    if (side !== plot.clientWidth) fit();
    const view = `${state.view.showTest}`;
    if (drawnData !== state.run.data || drawnView !== view) {
      drawPoints(state);
      drawnData = state.run.data;
      drawnView = view;
    }
    if (!state.frame) return;
    if (changes.has('frame') || changes.has('hover') || changes.has('view') || changes.has('run')) {
      drawHeat(state);
      drawMetrics(state.frame);
      heat.dataset.step = String(state.frame.step);
    }
    if (changes.has('run') || changes.has('frame') && state.frame.step === 0) drawLegend(state);
  }

  // Resizing clears the canvases: redraw at once, even while paused (no frame will come).
  let last = null;
  const resize = new ResizeObserver(() => {
    if (last && side !== plot.clientWidth) update(last, new Set(['frame']));
  });
  resize.observe(plot);
  return { update, destroy: () => { resize.disconnect(); el.replaceChildren(); } };
}
