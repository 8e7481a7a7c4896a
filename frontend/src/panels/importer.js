/**
 * Import a spec.json (what Export gives): a file chosen with "Import" or dropped anywhere on
 * the page. The server reads it (POST /api/spec/migrate: older versions migrated, defaults
 * filled in) and refuses it with an error per field, which the dialog lists; nothing changes
 * until a file is accepted, and then the page opens it as a new setup.
 */

import { h } from '../fields.js';
import { RequestError, migrateSpec } from '../rest.js';

/** @typedef {import('../types.js').Store} Store */

/** Largest file read (a spec is a few kB; the server's own message limit is larger). */
const MAX_BYTES = 256 * 1024;

/**
 * Why `text` is not a spec the page can send, as {field, message} items (empty: it parsed).
 * @param {string} text
 */
function parse(text) {
  try {
    const spec = JSON.parse(text);
    if (spec && typeof spec === 'object' && !Array.isArray(spec)) return { spec, errors: [] };
    return { spec: null, errors: [{ field: '', message: 'the file holds JSON, but not an ' +
      'object: a spec.json is one {...} object' }] };
  } catch (err) {
    return { spec: null, errors: [{ field: '', message: `not JSON: ${err.message}` }] };
  }
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const file = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'import-file',
    accept: '.json,application/json', class: 'sr-only', tabindex: -1 }));
  const button = h('button', { type: 'button', id: 'import-button', text: 'Import',
    title: 'Open a spec.json (as Export gives it); you can also drop one on the page' });
  const list = h('ul', { class: 'import-errors' });
  const heading = h('h2', { id: 'import-title' });
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'dialog',
    'aria-labelledby': 'import-title' }, heading, list,
  h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary',
    text: 'Choose another file', onclick: () => { dialog.close(); file.click(); } }),
  h('button', { type: 'button', text: 'Close', onclick: () => dialog.close() }))));
  el.append(button, file, dialog);

  function refuse(name, errors) {
    heading.textContent = `${name} was not opened`;
    list.replaceChildren(...errors.map(({ field, message }) => h('li', {},
      field ? h('code', { text: field }) : null, field ? ': ' : null, message)));
    dialog.showModal();
  }

  /** @param {File} chosen */
  async function read(chosen) {
    if (chosen.size > MAX_BYTES) {
      refuse(chosen.name, [{ field: '', message: `the file is ${chosen.size.toLocaleString(
        'en-US')} bytes; a spec.json is at most ${MAX_BYTES.toLocaleString('en-US')}` }]);
      return;
    }
    const { spec, errors } = parse(await chosen.text());
    if (!spec) { refuse(chosen.name, errors); return; }
    try {
      store.load(await migrateSpec(spec), `Opened ${chosen.name}.`);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      refuse(chosen.name, err.errors.map((e) => ({ field: e.field === 'body' ? '' : e.field,
        message: e.message })));
    }
  }

  button.addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    if (file.files?.[0]) read(file.files[0]);
    file.value = '';
  });
  const hasFile = (e) => Array.from(e.dataTransfer?.types || []).includes('Files');
  const over = (e) => {
    if (!hasFile(e)) return;
    e.preventDefault();
    document.body.classList.add('file-over');
  };
  const leave = () => document.body.classList.remove('file-over');
  const drop = (e) => {
    // a file dropped on the Data panel is a table to upload (upload.js took it first)
    if (!hasFile(e) || e.defaultPrevented) return;
    e.preventDefault();
    leave();
    const dropped = e.dataTransfer.files[0];
    if (dropped) read(dropped);
  };
  document.addEventListener('dragover', over);
  document.addEventListener('dragleave', leave);
  document.addEventListener('drop', drop);

  return {
    update() {},
    destroy: () => {
      document.removeEventListener('dragover', over);
      document.removeEventListener('dragleave', leave);
      document.removeEventListener('drop', drop);
      el.replaceChildren();
    },
  };
}
