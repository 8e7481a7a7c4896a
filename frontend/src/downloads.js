/**
 * The experiment's files, as links a person clicks: the spec (JSON), the curves (CSV), the
 * final weights (a PyTorch state_dict) and a standalone training script. A saved experiment's
 * files come from the server; an unsaved setup's spec is written here and its script is
 * asked of the server (docs/experiments.md).
 */

import { h } from './fields.js';
import { scriptFor } from './rest.js';

/** What each file is: its name, a tooltip, and a few words for menus. */
export const FILES = {
  spec: ['spec.json', 'The experiment as JSON (every setting, current spec version)',
    'every setting'],
  metrics: ['metrics.csv', 'The recorded curves: one row per step, evaluations per epoch',
    'the curves'],
  weights: ['weights.pt', 'The final weights: a PyTorch state_dict (torch.load); for runs ' +
    'side by side, a list of every run\'s, in order',
    'final weights (state_dict)'],
  script: ['script.py', 'A standalone script (numpy and torch only) that rebuilds and trains it',
    'plain PyTorch that trains it'],
  data: ['data.csv', 'The uploaded table it trains on: the script reads it from beside itself',
    'the table, for the script'],
};

/** A menu row: the file's control and what it is. */
export function menuItem(control) {
  const key = control.getAttribute('data-file') || '';
  return h('div', { class: 'menu-item' }, control,
    h('span', { class: 'muted', text: FILES[key]?.[2] ?? '' }));
}

/**
 * Links to a saved experiment's files; files without a recorded run are listed as such.
 * @param {Record<string, string|null>} links
 */
export function savedLinks(links) {
  // data.csv exists only for an uploaded table
  return Object.entries(FILES).filter(([key]) => key !== 'data' || links.data).map(
    ([key, [label, title]]) => (links[key]
    ? h('a', { class: 'download', href: links[key], download: '', title, 'data-file': key },
      label)
    : h('span', { class: 'download missing', title: 'Saved without a run: no curves or weights',
      'data-file': key }, label)));
}

/** Offer a Blob as a file download. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it starts; the URL is only needed for the click.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Buttons for an unsaved setup: its spec, written here, and its script, asked of the server.
 * @param {() => Record<string, any>} spec the spec being edited
 * @param {(message: string) => void} fail where a refusal is shown
 */
export function setupButtons(spec, fail) {
  const specButton = h('button', { class: 'download', 'data-file': 'spec', title: FILES.spec[1],
    onclick: () => saveBlob(new Blob([`${JSON.stringify(spec(), null, 2)}\n`],
      { type: 'application/json' }), 'torchplay.json') }, FILES.spec[0]);
  const scriptButton = h('button', { class: 'download', 'data-file': 'script',
    title: FILES.script[1], onclick: async () => {
      scriptButton.disabled = true;
      try {
        saveBlob(await scriptFor(spec()), 'torchplay.py');
      } catch (err) {
        fail(`The script could not be made: ${/** @type {Error} */ (err).message}`);
      } finally {
        scriptButton.disabled = false;
      }
    } }, FILES.script[0]);
  return [specButton, scriptButton];
}
