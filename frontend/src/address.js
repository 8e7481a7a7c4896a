/**
 * What the address bar says for the page on show: a saved experiment's view settings, a
 * lesson's id (while its spec is untouched), or the setup link (link.js) with the runs side
 * by side it holds and the view settings (view.js).
 */

import { MAX_RUNS_LINK, linkHash, runsParams } from './link.js';
import { viewParams } from './view.js';

/**
 * The hash for the page's state, and whether runs side by side were left out because the
 * link would pass MAX_RUNS_LINK characters (Share is the way to pass those on).
 * @param {import('./types.js').AppState} state
 * @param {{defaults: any, schema: import('./schema.js').Schema,
 *   variants: {label: string, patch: any}[]|null}} page
 * @returns {{hash: string, runsLeftOut: boolean}}
 */
export function addressHash(state, { defaults, schema, variants }) {
  const view = viewParams(state.view);
  const lesson = state.lesson;
  if (state.recorded) return { hash: view ? `#${view.slice(1)}` : '', runsLeftOut: false };
  if (lesson && JSON.stringify(state.spec) === JSON.stringify(lesson.spec)) {
    return { hash: `#lesson=${lesson.id}${view}`, runsLeftOut: false };
  }
  const base = linkHash(state.spec, defaults, schema);
  if (!variants || lesson) return { hash: base + view, runsLeftOut: false };
  const runs = runsParams(variants);
  if ((base + runs + view).length <= MAX_RUNS_LINK) {
    return { hash: base + runs + view, runsLeftOut: false };
  }
  return { hash: base + view, runsLeftOut: true };
}

/** What the page says when runs side by side do not fit in a link. */
export const runsLeftOutNote = (count) => `The ${count} runs side by side make a link over ` +
  `${MAX_RUNS_LINK.toLocaleString('en-US')} characters: the address bar holds the first run ` +
  'only. Share saves them all under one short link.';
