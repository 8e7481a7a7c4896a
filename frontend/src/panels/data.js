/**
 * The data panel: a dataset picker whose thumbnails are drawn from the server's own
 * generators, the sampling controls (points, noise, train share, test shift, batch size, data
 * seed and "regenerate"), the input features (or, for 1-D sets, the polynomial degree) and
 * the normalise toggle.
 */

import { FieldSet, h } from '../fields.js';
import { classColor, divergingCss } from '../colors.js';
import { fetchDatasets } from '../rest.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */
/** @typedef {import('../schema.js').Schema} Schema */

const LABELS = { multi_gauss: 'bumps', poly1d: 'cubic', sine1d: 'sine', checkerboard: 'checker',
  breast_cancer: 'cancer', fashion_mnist: 'fashion' };
const FEATURE_LABELS = { x1: 'X₁', x2: 'X₂', x1_sq: 'X₁²', x2_sq: 'X₂²', x1_x2: 'X₁X₂',
  sin_x1: 'sin X₁', sin_x2: 'sin X₂' };

export const featureLabel = (name) => FEATURE_LABELS[name] || name;

/** What a dataset kind is for, in the picker's words (the task comes from the schema). */
function purpose(schema, kind) {
  if (schema.tasks[kind] === 'classification') return 'classification';
  return schema.oneD.includes(kind) ? '1-D curve' : '2-D surface';
}

/** Loss to switch to when the task changes (the current one is kept when it still fits). */
function lossFor(schema, kind, spec) {
  const rules = schema.rules;
  const fits = rules.losses[schema.tasks[kind]] || [];
  const current = spec.loss.kind;
  const classes = rules.classes[kind] ?? spec.data.classes;
  if (fits.includes(current) && (!rules.two_class_losses.includes(current) || classes === 2)) {
    return current;
  }
  return fits[0];
}

const THUMB = 40;
const OWN_DATA = ['drawn', 'table'];

/** A dataset's points in a thumbnail: class colours, or the target on a diverging scale. */
function drawThumb(canvas, preview) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = canvas.height = THUMB * dpr;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.scale(dpr, dpr);
  const [x0, x1, y0, y1] = preview.extent;
  const px = (x) => ((x - x0) / (x1 - x0)) * THUMB;
  const py = (y) => THUMB - ((y - y0) / (y1 - y0)) * THUMB;
  const ys = preview.y;
  let lo = Infinity;
  let hi = -Infinity;
  for (const y of ys) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
  preview.x.forEach((p, i) => {
    const y = ys[i];
    ctx.fillStyle = preview.task === 'classification' ? classColor(y, preview.classes)
      : preview.one_d ? '#0877bd' : divergingCss(((y - lo) / (hi - lo || 1)) * 255);
    ctx.beginPath();
    ctx.arc(px(p[0]), preview.one_d ? py(y) : py(p[1]), 1.4, 0, Math.PI * 2);
    ctx.fill();
  });
}

/** A library set's thumbnail: its number of inputs, as pixels in a square or as columns. */
function drawLibraryThumb(canvas, preview) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = canvas.height = THUMB * dpr;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.scale(dpr, dpr);
  ctx.fillStyle = preview.available ? '#0877bd' : '#9aa0a6';
  ctx.font = '600 10px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(preview.image ? '▦' : '▥', THUMB / 2, THUMB / 2 - 2);
  ctx.fillText(`D=${preview.inputs}`, THUMB / 2, THUMB / 2 + 12);
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const fields = new FieldSet();
  const kinds = store.schema.options('data.kind', store.state.spec);
  /** @type {Map<string, {button: HTMLButtonElement, canvas: HTMLCanvasElement}>} */
  const tiles = new Map();
  const groups = { classify: 'Classify', regress: 'Regress' };
  const picker = h('div', { class: 'picker', role: 'group', 'aria-label': 'Dataset' });
  for (const [group, title] of Object.entries(groups)) {
    const row = h('div', { class: 'tiles' });
    const inGroup = (k) => (store.schema.tasks[k] !== 'regression') === (group === 'classify');
    // drawn points and tables come from the Draw and Your table panels, not from a tile
    for (const kind of kinds.filter((k) => inGroup(k) && !OWN_DATA.includes(k))) {
      const canvas = h('canvas', { class: 'thumb', width: THUMB, height: THUMB });
      const button = h('button', { class: 'tile', 'data-kind': kind,
        title: `${kind} (${purpose(store.schema, kind)})` },
      canvas, h('span', { text: LABELS[kind] || kind }));
      button.addEventListener('click', () => pick(kind));
      tiles.set(kind, { button, canvas });
      row.append(button);
    }
    picker.append(h('div', { class: `tile-group ${group}` }, h('h3', { text: title }), row));
  }

  /** @type {Map<string, any>} library sets (real data) as /api/datasets describes them */
  const library = new Map();

  function pick(kind) {
    const spec = store.state.spec;
    if (kind === spec.data.kind) return;
    /** @type {[string, any][]} */
    let loss = lossFor(store.schema, kind, spec);
    if (loss === 'bce' && library.get(kind)?.classes > 2) loss = 'cross_entropy'; // bce: 2 only
    const edits = [['data.kind', kind], ['data.drawn', null], ['data.table', null],
      ['loss.kind', loss]];
    // A library set is taken whole unless a person asks for fewer points afterwards.
    if (library.has(kind)) edits.push(['data.points', library.get(kind).size]);
    store.editMany(edits);
  }

  // A set this server cannot load (IDX files missing) is refused at data.kind: say why here.
  const kindError = h('p', { class: 'field-error kind-error', role: 'alert' });
  const unregisterKind = store.errors.register('data.kind', {
    show: (m) => { kindError.textContent = m; },
    clear: () => { kindError.textContent = ''; },
  });

  const percent = (v) => `${Math.round(v * 100)}%`;
  const classesField = fields.add(store, 'data.classes', { label: 'Classes (spiral arms)' });
  const noiseField = fields.add(store, 'data.noise', { label: 'Noise', kind: 'range', step: 0.05,
    format: percent });
  const pointsField = fields.add(store, 'data.points', { label: 'Points' });
  const shiftField = fields.add(store, 'data.test_shift', { label: 'Test shift', kind: 'range',
    step: 0.25, format: (v) => (v ? `${v > 0 ? '+' : ''}${v}` : 'none') });
  const sampling = h('div', { class: 'grid2' }, noiseField,
    fields.add(store, 'data.train_fraction', { label: 'Train share', kind: 'range', step: 0.05,
      format: percent }),
    pointsField, fields.add(store, 'training.batch_size', { label: 'Batch size' }),
    fields.add(store, 'data.seed', { label: 'Data seed' }),
    h('div', { class: 'field regen' }, h('button', { class: 'ghost', id: 'regenerate',
      title: 'Draw a new data set (a new data seed)', onclick: () => {
        const max = store.schema.node('data.seed', store.state.spec)?.maximum ?? 2 ** 31 - 1;
        store.edit('data.seed', Math.floor(Math.random() * Math.min(max, 1e6)));
      } }, '↻ Regenerate')), shiftField);

  // Features: toggles over the schema's list, in the schema's order.
  const featureNames = store.schema.options('features.inputs', store.state.spec);
  const featureBox = h('div', { class: 'features', role: 'group', 'aria-label': 'Input features' });
  /** @type {Map<string, HTMLInputElement>} */
  const featureInputs = new Map();
  for (const name of featureNames) {
    const input = h('input', { type: 'checkbox', 'data-feature': name });
    input.addEventListener('change', () => {
      const current = store.state.spec.features.inputs;
      const next = featureNames.filter((f) => (f === name ? input.checked : current.includes(f)));
      if (!store.edit('features.inputs', next)) input.checked = !input.checked;
    });
    featureInputs.set(name, input);
    featureBox.append(h('label', { class: 'chip' }, input, featureLabel(name)));
  }
  const featureField = h('div', { class: 'field', 'data-path': 'features.inputs' },
    h('span', { class: 'label', text: 'Inputs', title: store.schema.describe('features.inputs') }),
    featureBox, h('p', { class: 'field-error', role: 'alert' }));
  const unregister = store.errors.register('features.inputs', {
    show: (m) => { /** @type {HTMLElement} */ (featureField.lastChild).textContent = m; },
    clear: () => { /** @type {HTMLElement} */ (featureField.lastChild).textContent = ''; },
  });
  const degreeField = fields.add(store, 'features.degree', { label: 'Degree (x … xⁿ)' });
  const normalise = fields.add(store, 'features.standardize', { label: 'Normalise features' });

  el.append(h('h2', { text: 'Data' }), picker, kindError, classesField, sampling,
    h('h3', { text: 'Features' }), featureField, degreeField, normalise);

  fetchDatasets().then((previews) => {
    for (const preview of previews) {
      const tile = tiles.get(preview.kind);
      if (!tile) continue;
      if (preview.library) {
        library.set(preview.kind, preview);
        drawLibraryThumb(tile.canvas, preview);
        tile.button.title = `${preview.title}: ${preview.size.toLocaleString('en-US')} ` +
          `points, ${preview.inputs} inputs${preview.image ? ' (pixels)' : ''}` +
          (preview.available ? '' : `. ${preview.how_to_get}`);
        tile.button.classList.toggle('unavailable', !preview.available);
      } else {
        drawThumb(tile.canvas, preview);
      }
    }
    el.dataset.previews = String(previews.length);
  }, (err) => console.warn('no dataset thumbnails:', err));

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('spec')) return;
    const spec = state.spec;
    for (const [kind, tile] of tiles) {
      tile.button.setAttribute('aria-pressed', String(kind === spec.data.kind));
    }
    const curve = store.schema.oneD.includes(spec.data.kind);
    classesField.hidden = spec.data.kind !== 'spiral';
    // A table's inputs are its columns, its rows its points, its values as they are; drawn
    // points are as many as were drawn; library sets have their own columns and no noise.
    const table = spec.data.kind === 'table';
    const real = library.has(spec.data.kind);
    featureField.hidden = curve || table || real;
    pointsField.hidden = table || spec.data.kind === 'drawn';
    noiseField.hidden = table || real;
    shiftField.hidden = table || real;
    degreeField.hidden = !curve;
    for (const [name, input] of featureInputs) input.checked = spec.features.inputs.includes(name);
    fields.sync();
  }

  return { update, destroy: () => {
    fields.destroy(); unregister(); unregisterKind(); el.replaceChildren();
  } };
}
