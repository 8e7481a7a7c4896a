/**
 * Runs compared on one page: the runs a lesson trains side by side (variants) and the runs
 * pinned as references. The charts draw the run on show (the selected variant, or the only
 * run) and overlay the others, each with its own dash; colours keep their meaning (per layer,
 * or train/test), so a dash always means "which run".
 */

/** Up to this many pinned references. */
export const MAX_PINS = 4;
/** Per-layer charts overlay at most this many other runs: past that, a line per layer per
 * run is unreadable (the loss and accuracy charts overlay every run). */
export const MAX_LAYER_OVERLAYS = 4;

/** Dash patterns, one per run: solid first. */
const DASHES = [[], [7, 4], [2, 3], [10, 3, 2, 3], [1, 3], [14, 4], [5, 2, 1, 2], [3, 6]];

/** uPlot `dash` of the run with this style index (undefined draws solid). */
export function runDash(index) {
  const dash = DASHES[index % DASHES.length];
  return dash.length ? dash : undefined;
}

/** An SVG line in a run's dash, for legends and lists. */
export function dashSwatch(index) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', '36');
  svg.setAttribute('height', '8');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('dash-swatch');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
  for (const [k, v] of Object.entries({ x1: 0, y1: 4, x2: 36, y2: 4, stroke: '#333',
    'stroke-width': 2 })) line.setAttribute(k, String(v));
  const dash = runDash(index);
  if (dash) line.setAttribute('stroke-dasharray', dash.join(' '));
  svg.append(line);
  return svg;
}

/**
 * @typedef {Object} ShownRun
 * @property {string} key stable while the run lives (charts rebuild when the set changes)
 * @property {string} label
 * @property {number} style index into the dashes
 * @property {any} run {spec, summary, data, ...}
 * @property {import('./history.js').History} history
 * @property {import('./history.js').LayerTrace} trace
 */

/** Style index of the run on show. */
export function shownStyle(state) {
  return state.runs.length > 1 ? state.selected : 0;
}

/** The run on show as the legends name it: its own label in a comparison, else "this run". */
export function shownLabel(state) {
  return state.runs.length > 1 ? state.runs[state.selected]?.label ?? 'this run' : 'this run';
}

/**
 * The runs to overlay on the one on show: the other variants, then the pins.
 * @param {import('./types.js').AppState} state
 * @returns {ShownRun[]}
 */
export function overlays(state) {
  const group = state.runs.length > 1;
  const others = state.runs.flatMap((r, k) => (k === state.selected ? [] : [{
    key: `v${r.run.session}.${k}`, label: r.label, style: k, run: r.run, history: r.history,
    trace: r.trace }]));
  const pins = state.pins.map((p, i) => ({ key: p.id, label: p.label,
    style: (group ? state.runs.length : 1) + i, run: p.run, history: p.history, trace: p.trace }));
  return [...others, ...pins];
}

/** A value as the diff shows it: short, and a layer stack by what it is. */
function show(value) {
  if (Array.isArray(value)) return `${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value === undefined) return '—';
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return String(Number(value.toPrecision(4))); // a sampled 0.035305856 reads as 0.03531
  }
  return String(value);
}

/**
 * The spec fields whose values differ, as [path, before, after] (values shown as text):
 * objects key by key, lists item by item when they have the same length (so one layer's
 * dropout p is one field), else the whole list.
 * @returns {[string, string, string][]}
 */
export function specDiff(a, b, prefix = '') {
  if (a === b) return [];
  const bothObjects = a && b && typeof a === 'object' && typeof b === 'object';
  if (bothObjects && Array.isArray(a) === Array.isArray(b) &&
    (!Array.isArray(a) || a.length === b.length)) {
    // Another kind (of optimizer, initializer) has other fields: compare those both have.
    const otherKind = !Array.isArray(a) && a.kind !== undefined && a.kind !== b.kind;
    const keys = Array.isArray(a) ? a.map((_v, i) => String(i))
      : otherKind ? ['kind', ...Object.keys(a).filter((k) => k !== 'kind' && k in b)]
        : [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => specDiff(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [[prefix, show(a), show(b)]];
}
