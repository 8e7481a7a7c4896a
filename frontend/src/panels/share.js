/**
 * Share and Export, at the end of the top bar.
 *
 * Share opens a small dialog (name, note), stores the experiment on the server (the run as it
 * stands, with its curves, final frame and weights; runs side by side all together, or only
 * the one on show; or the setup alone when nothing runs) and
 * shows its short link (/e/<id>) with a copy button and the saved files. On a saved
 * experiment's page it shows that experiment's link, and on a saved sweep's page (/s/<id>) the
 * sweep's link and files. Export offers the files of what is on
 * screen: a saved experiment's four, or an unsaved setup's spec and script. Where this browser
 * saved the experiment (it holds the owner token, owner.js), the dialog also renames,
 * annotates and deletes it.
 */

import { h } from '../fields.js';
import { menuItem, savedLinks, setupButtons } from '../downloads.js';
import { experimentLinks } from '../rest.js';
import { deleteExperiment, editExperiment, owns } from '../owner.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

/** A labelled text control with its error line under it. */
function textField(id, label, control) {
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  control.setAttribute('aria-describedby', error.id);
  return { el: h('div', { class: 'field', 'data-field': id }, h('label', { for: id, text: label }),
    control, error), error };
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const limits = store.schema.limits;
  const nameInput = h('input', { id: 'share-name', type: 'text', autocomplete: 'off',
    maxlength: limits.max_name, placeholder: 'e.g. Circle with two tanh layers' });
  const noteInput = h('textarea', { id: 'share-note', rows: 4, maxlength: limits.max_note,
    placeholder: 'What to look at, what to try next…' });
  const name = textField('share-name', 'Name', nameInput);
  const note = textField('share-note', 'Note', noteInput);
  const about = h('p', { class: 'muted share-about' });
  const failure = h('p', { class: 'field-error', role: 'alert' });
  const save = h('button', { id: 'share-save', class: 'primary', type: 'submit' }, 'Save and get link');
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const onlyBox = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox',
    id: 'share-only' }));
  const onlyLabel = h('span');
  const only = h('label', { class: 'share-only', hidden: true }, onlyBox, ' ', onlyLabel);
  const form = h('form', { class: 'share-form', method: 'dialog' }, about, only, name.el,
    note.el, failure, h('div', { class: 'buttons' }, save, cancel));

  const url = h('input', { id: 'share-url', type: 'text', readonly: true,
    'aria-label': 'Link to the saved experiment' });
  const copied = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', { id: 'share-copy', type: 'button', onclick: () => copyLink() }, 'Copy');
  const saved = h('p', { class: 'share-saved' });
  const files = h('div', { class: 'downloads', role: 'group', 'aria-label': 'Downloads' });
  // The owner's controls: rename, annotate, delete (shown only where this browser owns it).
  const ownName = h('input', { id: 'owner-name', type: 'text', autocomplete: 'off',
    maxlength: limits.max_name, 'aria-label': 'Name', placeholder: 'Name' });
  const ownNote = h('textarea', { id: 'owner-note', rows: 3, maxlength: limits.max_note,
    'aria-label': 'Note', placeholder: 'Note' });
  const ownStatus = h('p', { class: 'muted', role: 'status', id: 'owner-status' });
  const ownSave = h('button', { id: 'owner-save', type: 'button', onclick: () => ownerEdit() },
    'Save name and note');
  const ownDelete = h('button', { id: 'owner-delete', type: 'button', class: 'danger',
    onclick: () => ownerDelete() }, 'Delete');
  const owner = h('details', { class: 'share-owner', id: 'share-owner', hidden: true },
    h('summary', { text: 'You saved this: rename, annotate or delete it' }), ownName, ownNote,
    h('div', { class: 'buttons' }, ownSave, ownDelete), ownStatus);
  const done = h('div', { class: 'share-done', hidden: true }, saved,
    h('div', { class: 'share-link' }, url, copy, copied), files, owner,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dialog.close() },
      'Close')));
  const dialog = h('dialog', { id: 'share-dialog', class: 'dialog', 'aria-labelledby': 'share-title' },
    h('h2', { id: 'share-title', text: 'Share this experiment' }), form, done);

  const shareButton = h('button', { id: 'share-open', title: 'Save this experiment and get a link ' +
    'to it', onclick: () => open() }, 'Share');
  const exportBody = h('div', { class: 'menu-body' });
  const exportMenu = h('details', { class: 'menu', id: 'export' },
    h('summary', { class: 'button', title: 'Download this experiment\'s files' }, 'Export'),
    exportBody);
  el.append(shareButton, exportMenu, dialog);
  // A menu closes when a click lands elsewhere, or on Escape.
  const closeMenu = (event) => {
    if (exportMenu.open && !(event instanceof KeyboardEvent && event.key !== 'Escape') &&
      !(event instanceof MouseEvent && exportMenu.contains(/** @type {Node} */ (event.target)))) {
      exportMenu.open = false;
    }
  };
  document.addEventListener('click', closeMenu);
  document.addEventListener('keydown', closeMenu);

  /** Show a saved experiment's link and files (and, to its owner, the owner's controls). */
  function showDone(id, links, text, name = '', note = '') {
    owner.hidden = !owns(id);
    ownName.value = name;
    ownNote.value = note;
    ownStatus.textContent = '';
    ownSave.disabled = ownDelete.disabled = false;
    url.value = new URL(/** @type {string} */ (links.page), location.origin).href;
    saved.textContent = text;
    copied.textContent = '';
    files.replaceChildren(h('span', { class: 'muted', text: 'Files:' }), ...savedLinks(links));
    form.hidden = true;
    done.hidden = false;
    dialog.dataset.id = id;
    url.focus();
    url.select();
  }

  /** On a saved sweep's page (/s/<id>): its link and files; the sweep panel shows it. */
  function showSweep(sweep) {
    owner.hidden = true;
    url.value = new URL(sweep.links.page, location.origin).href;
    saved.textContent = 'This sweep is saved; its link:';
    copied.textContent = '';
    files.replaceChildren(h('span', { class: 'muted', text: 'Files:' }),
      h('a', { class: 'download', href: sweep.links.csv, download: '', 'data-file': 'csv' },
        'results.csv'),
      h('a', { class: 'download', href: `/api/sweeps/${encodeURIComponent(sweep.id)}`,
        download: '', 'data-file': 'json' }, 'sweep.json'));
    form.hidden = true;
    done.hidden = false;
    url.focus();
    url.select();
  }

  function open() {
    const { recorded, frame, run, savedSweep } = store.state;
    if (savedSweep && location.pathname.startsWith('/s/')) {
      showSweep(savedSweep);
    } else if (recorded && !recorded.replaying) {
      showDone(recorded.id, recorded.links, 'This experiment is saved; its link:',
        recorded.name, recorded.note);
    } else {
      const live = run && !run.recorded && frame;
      const runs = store.state.runs;
      const group = live && runs.length > 1;
      only.hidden = !group;
      onlyBox.checked = false;
      onlyLabel.textContent = group ? `Save only the run on show (${
        runs[store.state.selected].label})` : '';
      about.textContent = group
        ? `Saves the ${runs.length} runs side by side as one experiment, as they are now ` +
          `(step ${frame.step.toLocaleString('en-US')}): each one's settings, curves and ` +
          'output, and the first one\'s weights. Anyone with the link can see it; the link ' +
          'cannot be guessed.'
        : live
        ? `Saves the settings and the run as it is now (step ${frame.step.toLocaleString(
          'en-US')}): its curves, its output and its weights. Anyone with the link can see it; ` +
          'the link cannot be guessed.'
        : 'Saves the settings (there is no run to save). Anyone with the link can open it; ' +
          'the link cannot be guessed.';
      for (const f of [name, note, { error: failure }]) f.error.textContent = '';
      form.hidden = false;
      done.hidden = true;
      save.disabled = false;
    }
    dialog.showModal();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault(); // the dialog stays open until the server has answered
    save.disabled = true;
    for (const f of [name, note, { error: failure }]) f.error.textContent = '';
    try {
      const answer = await store.share(nameInput.value, noteInput.value,
        only.hidden || !onlyBox.checked ? null : store.state.selected);
      const withRun = 'step' in answer;
      showDone(answer.id, experimentLinks(answer.id, withRun), withRun
        ? `Saved at step ${/** @type {any} */ (answer).step.toLocaleString('en-US')}. Its link:`
        : 'Saved (the settings only). Its link:', nameInput.value, noteInput.value);
      store.announce('Saved; the link is selected');
    } catch (err) {
      const e = /** @type {any} */ (err);
      const target = e.field === 'name' ? name.error : e.field === 'note' ? note.error : failure;
      target.textContent = e.message;
    } finally {
      save.disabled = false;
    }
  });

  async function ownerEdit() {
    const id = dialog.dataset.id ?? '';
    ownStatus.textContent = '';
    try {
      await editExperiment(id, ownName.value, ownNote.value);
      ownStatus.textContent = 'Saved the new name and note.';
      // On the experiment's own page, show them there too.
      if (store.state.recorded?.id === id) location.reload();
    } catch (err) {
      ownStatus.textContent = /** @type {Error} */ (err).message;
    }
  }

  async function ownerDelete() {
    const id = dialog.dataset.id ?? '';
    if (!window.confirm('Delete this saved experiment? Its link will stop working.')) return;
    try {
      await deleteExperiment(id);
      ownSave.disabled = ownDelete.disabled = true;
      ownStatus.textContent = 'Deleted: its link no longer opens.';
      store.announce('Deleted');
    } catch (err) {
      ownStatus.textContent = /** @type {Error} */ (err).message;
    }
  }

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(url.value);
      copied.textContent = 'Copied';
    } catch {
      url.select(); // no clipboard access (an insecure origin): leave it selected to copy
      copied.textContent = 'Press Ctrl+C to copy';
    }
  }

  let shown = '';

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    if (!changes.has('recorded') && !changes.has('run')) return;
    const rec = state.recorded;
    const key = rec ? `saved:${rec.id}` : 'setup';
    if (key === shown) return;
    shown = key;
    if (rec) {
      exportBody.replaceChildren(...savedLinks(rec.links).map(menuItem));
      return;
    }
    const fail = h('p', { class: 'field-error', role: 'alert' });
    exportBody.replaceChildren(...setupButtons(() => store.state.spec,
      (message) => { fail.textContent = message; }).map(menuItem), fail,
    h('p', { class: 'muted', text: 'The curves (metrics.csv) and the weights (weights.pt) ' +
      'come with a saved run: Share it, then download them there.' }));
  }

  return {
    update,
    destroy: () => {
      document.removeEventListener('click', closeMenu);
      document.removeEventListener('keydown', closeMenu);
      el.replaceChildren();
    },
  };
}
