/**
 * The block editor: the fields of one hidden layer (or of the output layer's initializer),
 * built from the schema. Only the fields that matter for the current choices are shown
 * (a normal init shows mean and std, a constant one its value), so the form rebuilds when a
 * choice changes, keeping focus on the control that was in use.
 */

import { FieldSet, h } from '../fields.js';
import { getPath } from '../schema.js';

/** @typedef {import('../app.js').Store} Store */

/** Which InitSpec parameters each init kind reads. */
const INIT_PARAMS = {
  constant: ['value'], normal: ['mean', 'std'], uniform: ['a', 'b'],
  xavier_uniform: ['gain'], xavier_normal: ['gain'], orthogonal: ['gain'],
  kaiming_uniform: ['mode', 'nonlinearity'], kaiming_normal: ['mode', 'nonlinearity'],
};
const NAMES = { value: 'Value', mean: 'Mean', std: 'Std', a: 'Low (a)', b: 'High (b)',
  gain: 'Gain', mode: 'Fan mode', nonlinearity: 'Nonlinearity' };

/** Fields of an init at `base` ("network.layers.0.init"). */
function initFields(store, fields, base, title) {
  const init = getPath(store.state.spec, base) || {};
  return [
    fields.add(store, `${base}.kind`, { label: title }),
    ...(INIT_PARAMS[init.kind] || []).map((p) => fields.add(store, `${base}.${p}`,
      { label: NAMES[p] })),
  ];
}

/** What decides the form's shape: when it changes the form is rebuilt. */
function shapeOf(store, index) {
  const spec = store.state.spec;
  if (index === -2) return `out:${spec.network.output_init.kind}`;
  const layer = spec.network.layers[index];
  if (!layer) return 'none';
  return [index, layer.type, layer.fn, layer.bias, layer.init?.kind, layer.bias_init?.kind]
    .join(':');
}

/**
 * @param {Store} store
 * @param {HTMLElement} host where the form goes
 * @param {() => void} onClose Escape or the close button
 */
export function createEditor(store, host, onClose) {
  const fields = new FieldSet();
  let index = -1;
  let shape = '';

  function build() {
    fields.destroy();
    shape = shapeOf(store, index);
    const spec = store.state.spec;
    const base = `network.layers.${index}`;
    const layer = index >= 0 ? spec.network.layers[index] : null;
    /** @type {HTMLElement[]} */
    let body = [];
    let title = 'Output layer';
    if (index === -2) {
      body = initFields(store, fields, 'network.output_init', 'Weight init');
    } else if (layer?.type === 'linear') {
      title = `Layer ${index + 1}: Linear`;
      body = [fields.add(store, `${base}.units`, { label: 'Units' }),
        fields.add(store, `${base}.bias`, { label: 'Bias' }),
        ...initFields(store, fields, `${base}.init`, 'Weight init')];
      if (layer.bias) {
        body.push(fields.add(store, `${base}.bias_init.kind`, { label: 'Bias init' }));
        if (layer.bias_init.kind === 'constant') {
          body.push(fields.add(store, `${base}.bias_init.value`, { label: 'Bias value' }));
        }
      }
    } else if (layer?.type === 'activation') {
      title = `Layer ${index + 1}: activation`;
      body = [fields.add(store, `${base}.fn`, { label: 'Function' })];
      if (store.schema.rules.slope_activations.includes(layer.fn)) {
        body.push(fields.add(store, `${base}.slope`, { label: 'Negative slope' }));
      }
    } else if (layer?.type === 'dropout') {
      title = `Layer ${index + 1}: Dropout`;
      body = [fields.add(store, `${base}.p`, { label: 'Drop probability p' })];
    } else if (layer?.type === 'batchnorm') {
      title = `Layer ${index + 1}: BatchNorm`;
      body = [fields.add(store, `${base}.momentum`, { label: 'Momentum' })];
    } else if (layer?.type === 'layernorm') {
      title = `Layer ${index + 1}: LayerNorm`;
      body = [h('p', { class: 'muted', text: 'Normalises each point over its units; it has ' +
        'a learned scale and shift and nothing to set.' })];
    }
    const close = h('button', { class: 'ghost small', 'aria-label': 'Close editor',
      onclick: onClose }, '✕');
    const form = h('div', { class: 'editor', role: 'group', 'aria-label': title },
      h('div', { class: 'editor-head' }, h('h3', { text: title }), close),
      h('div', { class: 'editor-fields' }, ...body));
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); onClose(); }
    });
    host.replaceChildren(form);
  }

  return {
    /** Show the form for layer `i` (-2: the output layer). */
    show(i) {
      index = i;
      build();
    },
    /** Bring the form up to date with the spec, rebuilding it if its shape changed. */
    sync() {
      if (index === -1) return;
      if (shapeOf(store, index) === shape) { fields.sync(); return; }
      const active = /** @type {HTMLElement|null} */ (document.activeElement);
      const path = host.contains(active) ? active?.closest('.field')?.getAttribute('data-path')
        : null;
      build();
      if (path) /** @type {HTMLElement|null} */ (host.querySelector(
        `.field[data-path="${path}"] input, .field[data-path="${path}"] select`))?.focus();
    },
    close() {
      index = -1;
      fields.destroy();
      host.replaceChildren();
    },
    get index() { return index; },
  };
}
