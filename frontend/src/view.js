/**
 * The view settings a link carries beside the spec: how the run is shown, not what is run.
 * They ride in the same hash as `view.<key>=<value>` (link.js reads them like spec fields;
 * main.js takes them out before the spec goes to the server), only where they differ from
 * the defaults, so a plain link stays as short as before.
 *
 * `hide` lists controls a teacher chose to hide (a classroom link). It is a view setting, not
 * a lock: the page says controls are hidden and offers to show them again.
 */

/** @typedef {{showTest: boolean, discrete: boolean, logLoss: boolean, smoothing: number,
 *   hide: string[]}} View */

/** @returns {View} */
export const defaultView = () => ({ showTest: false, discrete: false, logLoss: true,
  smoothing: 0.9, hide: [] });

/** Link key -> view key, and how a value read from a link is checked. */
const KEYS = {
  test: ['showTest', (v) => typeof v === 'boolean'],
  discrete: ['discrete', (v) => typeof v === 'boolean'],
  log: ['logLoss', (v) => typeof v === 'boolean'],
  smooth: ['smoothing', (v) => typeof v === 'number' && v >= 0 && v < 1],
  hide: ['hide', (v) => Array.isArray(v) && v.every((x) => x in HIDEABLE)],
};

/** Controls a classroom link can hide: name -> [label, the elements it hides]. */
export const HIDEABLE = {
  data: ['Data', '#data'],
  training: ['Training settings', '#training'],
  builder: ['Network builder', '#builder'],
  charts: ['Charts below', '#charts, #compare'],
  stepping: ['Step and Reset buttons', '#step-one, .step-n, #reset'],
  share: ['Share, Export and Import', '#share, #import'],
  lessons: ['Lessons', '#lessons-nav'],
};

/** The hash parameters of a view (`&view.test=true...`), only those not at their default. */
export function viewParams(view) {
  const base = defaultView();
  return Object.entries(KEYS).map(([key, [name]]) => {
    const value = view[name];
    if (JSON.stringify(value) === JSON.stringify(base[name])) return '';
    return `&view.${key}=${Array.isArray(value) ? `[${value.join(',')}]` : value}`;
  }).join('');
}

/**
 * The view a link's `view` object asks for (as link.js read it), and the keys it could not
 * use (each a {field, message}, shown like a refused spec value).
 * @param {Record<string, any>|undefined} written
 */
export function readView(written) {
  const view = defaultView();
  /** @type {{field: string, message: string}[]} */
  const errors = [];
  for (const [key, value] of Object.entries(written || {})) {
    const known = KEYS[/** @type {keyof KEYS} */ (key)];
    if (known && known[1](value)) view[known[0]] = value;
    else errors.push({ field: '', message: `view.${key}: not a view setting this page knows` });
  }
  return { view, errors };
}
