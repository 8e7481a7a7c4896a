/**
 * Uploading your own table (data.kind "table"): a CSV with a header row, or a TSV, chosen
 * with the file picker or dropped on the Data panel. The server checks the whole file and
 * answers its columns (or the line and column of the first problem, and nothing changes);
 * the user then picks the target, what it is (classes or numbers), the inputs and the plane
 * the Output panel shows, and trains. A link to a table carries only its hash: opened on a
 * server without that file, this panel says so.
 */

import { h } from '../fields.js';
import { describeTable, uploadTable } from '../tables.js';

/** @typedef {import('../types.js').Store} Store */

const MAX_INPUTS = 64;
const MAX_CLASSES = 20;

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  /** @type {any} the server's description of the table on show */
  let table = null;
  const file = h('input', { type: 'file', id: 'table-file', class: 'sr-only',
    accept: '.csv,.tsv,.txt,text/csv,text/tab-separated-values' });
  const choose = h('label', { class: 'ghost button', for: 'table-file', text: '⇪ Upload a table' });
  const hint = h('p', { class: 'muted', text: 'CSV with a header row, or TSV; up to 10 MB, '
    + '100,000 rows and 64 inputs. Or drop the file on this panel.' });
  const problem = h('p', { class: 'field-error upload-error', id: 'table-error', role: 'alert' });
  const title = h('p', { class: 'table-title', id: 'table-title' });
  const target = h('select', { id: 'table-target', 'aria-label': 'Target column' });
  const task = h('select', { id: 'table-task', 'aria-label': 'The target is' },
    h('option', { value: 'classification', text: 'classes (labels)' }),
    h('option', { value: 'regression', text: 'a number (regression)' }));
  const inputs = h('div', { class: 'features table-inputs', role: 'group',
    'aria-label': 'Input columns' });
  const planeU = h('select', { id: 'table-plane-u', 'aria-label': 'Plane: horizontal' });
  const planeV = h('select', { id: 'table-plane-v', 'aria-label': 'Plane: vertical' });
  const use = h('button', { id: 'table-use', class: 'primary', text: 'Train on this table' });
  const chooser = h('div', { class: 'table-chooser', hidden: true }, title,
    h('label', { class: 'field' }, h('span', { class: 'label', text: 'Target' }), target),
    h('label', { class: 'field' }, h('span', { class: 'label', text: 'It is' }), task),
    h('div', { class: 'field' }, h('span', { class: 'label', text: 'Inputs' }), inputs),
    h('div', { class: 'field' }, h('span', { class: 'label', text: 'Output plane' }),
      h('span', { class: 'plane-pick' }, planeU, ' × ', planeV)),
    use);
  el.append(h('h2', { text: 'Your table' }), h('div', { class: 'upload-row' }, file, choose),
    hint, problem, chooser);
  const unregister = store.errors.register('data.table', {
    show: (m) => { problem.textContent = m; }, clear: () => { problem.textContent = ''; },
  });

  async function send(picked) {
    if (!picked) return;
    problem.textContent = `Reading ${picked.name}…`;
    try {
      show(await uploadTable(picked));
      problem.textContent = '';
      store.announce(`${picked.name}: ${table.rows} rows; pick the target and the inputs`);
    } catch (err) {
      problem.textContent = `${picked.name}: ${err.message}`; // nothing else changes
    }
  }
  file.addEventListener('change', () => { send(file.files?.[0]); file.value = ''; });

  // Drop a file anywhere on the Data panel (or this one).
  const zones = [el, document.getElementById('data')].filter(Boolean);
  const over = (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    for (const z of zones) z.classList.add('dropping');
  };
  const leave = () => { for (const z of zones) z.classList.remove('dropping'); };
  const drop = (event) => {
    if (!event.dataTransfer?.files.length) return;
    event.preventDefault();
    leave();
    send(event.dataTransfer.files[0]);
  };
  for (const z of zones) {
    z.addEventListener('dragover', over);
    z.addEventListener('dragleave', leave);
    z.addEventListener('drop', drop);
  }

  const column = (name) => table.columns.find((c) => c.name === name);
  /** What stops a column from serving as an input, in the server's words (or ''). */
  const inputProblem = (c) => (c.missing_line ? `line ${c.missing_line}, column '${c.name}': `
    + 'the cell is empty' : c.not_number ? `line ${c.not_number.line}, column '${c.name}': `
    + `'${c.not_number.text}' is not a number` : '');

  function show(described, chosen = null) {
    table = described;
    chooser.hidden = false;
    title.textContent = `${described.name} · ${described.rows.toLocaleString()} rows · `
      + `${described.columns.length} columns`;
    target.replaceChildren(...described.columns.map((c) => h('option', { value: c.name,
      text: c.name })));
    // The last column is the usual place for the target.
    target.value = chosen?.target ?? described.columns[described.columns.length - 1].name;
    const t = column(target.value);
    task.value = chosen?.task ?? (t.numeric && (t.distinct > 10 || !t.labels) ? 'regression'
      : 'classification');
    fillInputs(chosen?.inputs);
    fillPlane(chosen?.plane ?? []);
  }

  function fillInputs(chosen) {
    inputs.replaceChildren();
    let count = 0;
    for (const c of table.columns) {
      if (c.name === target.value) continue;
      const bad = inputProblem(c);
      const box = h('input', { type: 'checkbox', 'data-column': c.name });
      box.checked = chosen ? chosen.includes(c.name) : !bad && count < MAX_INPUTS;
      if (box.checked) count += 1;
      box.disabled = Boolean(bad);
      box.addEventListener('change', () => fillPlane([]));
      inputs.append(h('label', { class: 'chip', title: bad || `use ${c.name} as an input` },
        box, c.name));
    }
  }

  const picked = () => [...inputs.querySelectorAll('input:checked')]
    .map((b) => /** @type {HTMLInputElement} */ (b).dataset.column);

  function fillPlane(plane) {
    const names = picked();
    for (const [select, k] of [[planeU, 0], [planeV, 1]]) {
      select.replaceChildren(h('option', { value: '', text: k ? 'PC2' : 'PC1 (principal)' }),
        ...names.map((n) => h('option', { value: n, text: n })));
      select.value = plane[k] ?? '';
    }
  }
  const samePlane = () => { planeV.value = planeU.value ? planeV.value : ''; };
  planeU.addEventListener('change', samePlane);
  planeV.addEventListener('change', () => { if (!planeU.value) planeV.value = ''; });

  target.addEventListener('change', () => { fillInputs(null); fillPlane([]); });

  use.addEventListener('click', () => {
    const names = picked();
    const t = column(target.value);
    const plane = planeU.value && planeV.value ? [planeU.value, planeV.value] : [];
    let message = '';
    if (names.length < 2) message = 'choose at least 2 input columns';
    else if (names.length > MAX_INPUTS) message = `choose at most ${MAX_INPUTS} inputs`;
    else if (t.missing_line) message = `line ${t.missing_line}, column '${t.name}': the `
      + 'target is missing';
    else if (task.value === 'regression' && t.not_number) message = inputProblem(t);
    else if (task.value === 'classification' && t.distinct < 2) message = `column '${t.name}': `
      + 'one class only; classification needs at least 2 labels';
    else if (task.value === 'classification' && t.distinct > MAX_CLASSES) message = `column `
      + `'${t.name}': ${t.distinct} labels; at most ${MAX_CLASSES} classes (or choose a number)`;
    else if (plane.length && plane[0] === plane[1]) message = 'the plane needs two columns';
    problem.textContent = message;
    if (message) return;
    const classification = task.value === 'classification';
    const fits = classification ? ['cross_entropy', 'bce'] : ['mse', 'huber'];
    const current = store.state.spec.loss.kind;
    const classes = classification ? t.distinct : 2;
    const loss = fits.includes(current) && (current !== 'bce' || classes === 2) ? current : fits[0];
    store.editMany([['data.kind', 'table'], ['data.drawn', null], ['data.test_shift', 0],
      ['data.table', { hash: table.hash, target: t.name, inputs: names, task: task.value,
        classes, plane }], ['loss.kind', loss]]);
  });

  let asked = '';
  /** @param {import('../types.js').AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('spec')) return;
    const chosen = state.spec.data.kind === 'table' ? state.spec.data.table : null;
    if (!chosen || chosen.hash === table?.hash || chosen.hash === asked) return;
    asked = chosen.hash; // a link's table: describe it, or say this server lacks it
    describeTable(chosen.hash).then((described) => show(described, chosen), (err) => {
      problem.textContent = err.status === 404 ? `This server does not have the table this `
        + `link uses (hash ${chosen.hash.slice(0, 12)}…): upload the file again to use it.`
        : err.message;
    });
  }

  return { update, destroy: () => { unregister(); leave(); el.replaceChildren(); } };
}
