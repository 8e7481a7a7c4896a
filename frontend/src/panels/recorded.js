/**
 * The banner of a saved experiment (/e/<id>): its name and note, which moment the page shows
 * ("Recorded run — step N"), "Run again" and "Fork", and its files. Hidden on the
 * playground. Also the page for an id that names no experiment.
 *
 * The name and note are whatever someone typed, `<script>` included: they only ever go into
 * textContent, so they are shown as text and never run.
 */

import { h } from '../fields.js';
import { savedLinks } from '../downloads.js';

/** @typedef {import('../app.js').Store} Store */
/** @typedef {import('../app.js').AppState} AppState */

const count = (n) => n.toLocaleString('en-US');

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const name = h('h2', { class: 'recorded-name', id: 'recorded-name' });
  const when = h('span', { class: 'muted recorded-when' });
  const note = h('p', { class: 'recorded-note', id: 'recorded-note' });
  const moment = h('p', { class: 'recorded-moment', id: 'recorded-moment', role: 'status' });
  const changed = h('p', { class: 'recorded-changed' });
  const problem = h('p', { class: 'recorded-problem', role: 'alert' });
  const runAgain = h('button', { id: 'run-again', class: 'primary', onclick: () =>
    store.runAgain() }, 'Run again');
  const fork = h('button', { id: 'fork', title: 'An editable copy of this experiment; the ' +
    'saved one stays as it is', onclick: () => store.fork() }, 'Fork (edit a copy)');
  const files = h('div', { class: 'downloads', role: 'group', 'aria-label': 'Downloads' });
  el.append(
    h('div', { class: 'recorded-text' }, h('div', { class: 'recorded-title' },
      h('span', { class: 'badge', text: 'Saved experiment' }), name, when), note, moment,
    changed, problem),
    h('div', { class: 'recorded-actions' }, h('div', { class: 'buttons' }, runAgain, fork),
      files));

  let shownId = '';
  const pageTitle = document.title;

  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    const rec = state.recorded;
    el.hidden = !rec;
    if (!rec) {
      if (shownId) document.title = pageTitle; // forked: the playground again
      shownId = '';
      return;
    }
    if (!changes.has('recorded') && !changes.has('frame') && !changes.has('status')) return;
    if (shownId !== rec.id) {
      shownId = rec.id;
      name.textContent = rec.name || 'Untitled experiment';
      document.title = `${name.textContent} · torchplay`;
      name.classList.toggle('untitled', !rec.name);
      note.textContent = rec.note;
      note.hidden = !rec.note;
      const created = new Date(rec.created);
      when.textContent = Number.isNaN(created.valueOf()) ? ''
        : `saved ${created.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}`;
      files.replaceChildren(h('span', { class: 'muted', text: 'Files:' }),
        ...savedLinks(rec.links));
    }
    const saved = rec.run;
    if (!saved) {
      moment.textContent = rec.replaying ? 'A saved setup, now running.'
        : 'A saved setup: it has not been trained yet.';
      runAgain.textContent = 'Run';
    } else if (!rec.replaying) {
      moment.replaceChildren(h('strong', { text: `Recorded run — step ${count(saved.step)}, ` +
        `epoch ${count(saved.epoch)}.` }), ' Shown as saved: nothing is training, and its ' +
        'settings are fixed (Fork to change a copy).');
    } else {
      const step = state.frame && !state.run?.recorded ? state.frame.step : 0;
      moment.textContent = `Running it again: step ${count(step)} (the recording stopped at ` +
        `step ${count(saved.step)}).`;
    }
    el.classList.toggle('replaying', rec.replaying);
    // A group says which of its runs changed: each edited run by its label.
    const edited = (saved?.changes ?? []).filter((c) => c.changedAt !== null);
    changed.hidden = !edited.length;
    if (!changed.hidden) {
      const group = (saved?.changes.length ?? 0) > 1;
      const said = edited.map(({ label, changedAt, weightEdits: edits }) =>
        `${group ? `${label}: ` : ''}${edits ? `Weights were edited by hand (${count(edits)} ` +
        `time${edits === 1 ? '' : 's'}) or settings changed` : 'Settings were changed'} ` +
        `during ${group ? 'that' : 'this'} run, from step ${count(/** @type {number} */
          (changedAt))} on.`);
      changed.textContent = `${said.join(' ')} Run again replays the saved settings from ` +
        'step 0, so it departs from the recording there.';
    }
    problem.replaceChildren();
    if (rec.problem) {
      problem.append(`This server cannot run it as saved: ${rec.problem.message}`);
      if (rec.problem.field === 'training.device') {
        problem.append(' ', h('button', { class: 'small', id: 'run-auto', onclick: () =>
          store.runAgain('auto') }, 'Run on this server\'s device'));
      }
    }
    problem.hidden = !rec.problem;
  }

  return { update, destroy: () => el.replaceChildren() };
}

/**
 * The page for an id that names no experiment: said plainly, with the way back.
 * @param {string} id as it appears in the URL (shown as text)
 */
export function showMissing(id, what = 'experiment') {
  document.body.classList.remove('loading');
  document.body.classList.add('missing');
  document.getElementById('header')?.append(h('a', { class: 'brand', href: '/' },
    h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('h1', {}, 'torchplay')));
  const title = document.title = `No such ${what} · torchplay`;
  const main = /** @type {HTMLElement} */ (document.querySelector('main'));
  main.replaceWith(h('main', { class: 'missing-page', role: 'alert' },
    h('h1', { text: title.split(' · ')[0] }),
    h('p', {}, `No ${what} is saved under the id `, h('code', { text: id }),
      ' on this server. The link may be mistyped or cut short, or it was saved on another ' +
      'server.'),
    h('p', {}, h('a', { href: '/', class: 'button primary' }, 'Open the playground'))));
}
