/**
 * Lessons: the gallery (a dialog opened from the top bar, one tile per lesson, each a link
 * /#lesson=<id> that opens it) and the card of the open lesson: its explanation, what to
 * watch, and its tool (panels/tools.js). A lesson whose search is a sweep (lesson 21) offers a
 * button to its Sweep panel, where the search is loaded. Lesson text is the server's: set as
 * text, never HTML.
 */

import { h } from '../fields.js';
import { fetchLessons } from '../rest.js';
import * as tools from './tools.js';

/** @typedef {import('../types.js').Store} Store */
/** @typedef {import('../types.js').AppState} AppState */

const TOOL_NAMES = { activation_curves: 'activation gallery', gradient_check: 'gradient check',
  diagnosis: 'bias/variance readout', ema: 'smoothing' };

/** Paragraphs of a lesson's text; `code` spans as code. */
function paragraphs(text) {
  return text.split(/\n\s*\n/).map((para) => h('p', {}, ...para.split(/(`[^`]+`)/).map(
    (part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1
      ? h('code', { text: part.slice(1, -1) }) : part))));
}

function tile(lesson) {
  const runs = lesson.variants.length;
  const meta = [lesson.sweep ? `a sweep of ${lesson.sweep.trials} trials`
    : runs ? `${runs} runs side by side` : 'one run',
    ...(lesson.tool ? [TOOL_NAMES[lesson.tool]] : [])].join(' · ');
  return h('li', {}, h('a', { class: 'lesson-tile', href: `#lesson=${lesson.id}`,
    'data-lesson': lesson.id },
  h('span', { class: 'lesson-number', text: String(lesson.number) }),
  h('span', { class: 'lesson-title', text: lesson.title }),
  h('span', { class: 'lesson-meta muted', text: meta })));
}

/** @param {HTMLElement} el @param {Store} store */
export function mount(el, store) {
  const list = h('ol', { class: 'lesson-grid' });
  const problem = h('p', { class: 'field-error', role: 'alert' });
  const dialog = h('dialog', { id: 'lessons-dialog', class: 'dialog lessons-dialog',
    'aria-labelledby': 'lessons-title' },
  h('header', { class: 'dialog-head' }, h('h2', { id: 'lessons-title', text: 'Lessons' }),
    h('button', { type: 'button', class: 'close', 'aria-label': 'Close',
      onclick: () => dialog.close() }, '×')),
  h('p', { class: 'muted', text: 'The experiments a deep-learning course asks you to see. ' +
    'Each opens with its settings (and, where it compares, its runs side by side); press ' +
    'Play.' }), problem, list);
  let loaded = false;
  async function openGallery() {
    dialog.showModal();
    if (loaded) return;
    try {
      list.replaceChildren(...(await fetchLessons()).map(tile));
      loaded = true;
      problem.textContent = '';
    } catch (err) {
      problem.textContent = `The lessons could not be loaded: ${/** @type {Error} */ (err).message}`;
    }
  }
  // A tile is a link: its hash change reloads the page into that lesson (app.js).
  list.addEventListener('click', (event) => {
    if (/** @type {HTMLElement} */ (event.target).closest('a')) dialog.close();
  });
  const nav = /** @type {HTMLElement} */ (document.getElementById('lessons-nav'));
  nav.append(h('button', { id: 'lessons-open', title: 'The course experiments, one click ' +
    'away', onclick: () => openGallery() }, 'Lessons'), dialog);

  const eyebrow = h('p', { class: 'lesson-eyebrow muted' });
  const title = h('h2', { id: 'lesson-title' });
  const text = h('div', { class: 'lesson-text' });
  const watch = h('p', { class: 'lesson-watch' });
  const toolEl = h('div', { id: 'lesson-tool' });
  // The sweep panel holds the lesson's search (panels/sweep.js): take the reader there.
  const toSweep = h('button', { type: 'button', id: 'lesson-sweep', class: 'primary',
    hidden: true, onclick: () => {
      document.getElementById('sweep')?.scrollIntoView({ block: 'start' });
      document.getElementById('sweep-start')?.focus({ preventScroll: true });
    } }, 'Go to the search (Sweep panel)');
  const body = h('div', { class: 'lesson-body' }, text,
    h('div', { class: 'lesson-side' }, watch, toSweep, toolEl));
  const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'true',
    onclick: () => {
      body.hidden = !body.hidden;
      toggle.setAttribute('aria-expanded', String(!body.hidden));
      toggle.textContent = body.hidden ? 'Show' : 'Hide';
    } }, 'Hide');
  el.append(h('header', { class: 'lesson-head' }, h('div', {}, eyebrow, title),
    h('div', { class: 'buttons' }, toggle,
      h('button', { type: 'button', onclick: () => openGallery() }, 'All lessons'),
      h('button', { type: 'button', id: 'lesson-close', onclick: () => store.closeLesson() },
        'Close lesson'))), body);
  const tool = tools.mount(toolEl, store);

  let shown = null;
  /** @param {AppState} state @param {Set<string>} changes */
  function update(state, changes) {
    const lesson = state.lesson;
    if (lesson !== shown) {
      shown = lesson;
      el.hidden = !lesson;
      if (lesson) {
        eyebrow.textContent = `Lesson ${lesson.number}` + (lesson.sweep
          ? ` · a sweep of ${lesson.sweep.trials} trials` : lesson.variants.length
            ? ` · ${lesson.variants.length} runs side by side` : '');
        toSweep.hidden = !lesson.sweep;
        title.textContent = lesson.title;
        text.replaceChildren(...paragraphs(lesson.text));
        watch.replaceChildren(h('strong', { text: 'Watch: ' }), lesson.watch);
        document.title = `${lesson.title} · torchplay`;
      }
      changes.add('lesson');
    }
    tool.update(state, changes);
  }
  return { update, destroy: () => { tool.destroy(); el.replaceChildren(); } };
}
