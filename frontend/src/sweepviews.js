/**
 * Views of a sweep's trials: a scatter of the final metric against one parameter (log axis
 * where the parameter's range is log; a choice's values evenly spaced in their order), a table
 * sortable by any column, and every trial's test-loss curve, thinned. They draw from
 * plain rows, {index, values, test_loss, test_metric, diverged, epoch}, and call `onPick(k)`
 * when a trial is clicked.
 */

import { h } from './fields.js';

const W = 260;
const H = 170;
const PAD = 30;

function scale(lo, hi, log, from, to) {
  const f = log ? Math.log : (v) => v;
  const a = f(lo);
  const b = f(hi);
  return (v) => (b === a ? (from + to) / 2 : from + ((f(v) - a) / (b - a)) * (to - from));
}

/** Where a trial's value of a parameter lies on its axis: a choice's value (`categories`,
 * its values in order) at its position in the list, a number as itself. */
export function position(value, categories) {
  if (!categories) return value;
  const at = categories.indexOf(value);
  return at < 0 ? NaN : at;
}

/** A canvas scatter of `metric` against parameter `path` (`categories`: a choice's values);
 * returns {el, draw(rows, shown)}. */
export function scatter(path, log, metricLabel, onPick, categories = null) {
  const canvas = h('canvas', { width: W, height: H, class: 'sweep-scatter',
    'data-path': path, 'aria-label': `${metricLabel} against ${path}` });
  const el = h('figure', { class: 'sweep-figure' }, canvas,
    h('figcaption', { text: `${metricLabel} against ${path}${log ? ' (log scale)' : ''}` }));
  let points = [];
  canvas.addEventListener('click', (event) => {
    const box = canvas.getBoundingClientRect();
    const x = (event.clientX - box.left) * (W / box.width);
    const y = (event.clientY - box.top) * (H / box.height);
    let best = null;
    for (const p of points) {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d < 100 && (!best || d < best.d)) best = { d, k: p.k };
    }
    if (best) onPick(best.k);
  });

  function draw(rows, shown, metric) {
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, W, H);
    const finite = rows.filter((r) => Number.isFinite(r[metric]));
    const at = (r) => position(r.values[path], categories);
    const xs = categories ? [0, categories.length - 1] : rows.map(at);
    const ys = finite.map((r) => r[metric]);
    ctx.strokeStyle = '#bbb';
    ctx.strokeRect(PAD, 4, W - PAD - 4, H - PAD - 4);
    ctx.fillStyle = '#555';
    ctx.font = '10px sans-serif';
    if (!xs.length) return;
    const x = scale(Math.min(...xs), Math.max(...xs), log && !categories, PAD + 4, W - 8);
    const yLog = metric === 'test_loss';
    const lo = ys.length ? Math.min(...ys) : 0;
    const hi = ys.length ? Math.max(...ys) : 1;
    const y = scale(yLog ? Math.max(lo, 1e-6) : lo, yLog ? Math.max(hi, 1e-6) : hi, yLog,
      H - PAD - 4, 8);
    const end = (v) => (categories ? String(categories[v]) : fmt(v));
    ctx.fillText(end(Math.min(...xs)), PAD, H - 12);
    ctx.textAlign = 'right';
    ctx.fillText(end(Math.max(...xs)), W - 4, H - 12);
    ctx.fillText(fmt(hi), PAD - 2, 12);
    ctx.fillText(fmt(lo), PAD - 2, H - PAD - 4);
    ctx.textAlign = 'left';
    points = [];
    for (const r of rows) {
      const px = x(at(r));
      const finiteY = Number.isFinite(r[metric]);
      const py = finiteY ? y(yLog ? Math.max(r[metric], 1e-6) : r[metric]) : 10;
      points.push({ x: px, y: py, k: r.index });
      ctx.fillStyle = r.diverged || !finiteY ? '#d33' : r.index === shown ? '#f59322' : '#0877bd';
      ctx.beginPath();
      ctx.arc(px, py, r.index === shown ? 4.5 : 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    canvas.dataset.points = String(points.length);
  }
  return { el, draw };
}

export function fmt(v) {
  if (typeof v === 'string' || typeof v === 'boolean') return String(v); // a choice's value
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (typeof v === 'number' && !Number.isInteger(v)) return v.toPrecision(3);
  return String(v);
}

/** A table of trials sortable by any column (click a header; again to reverse). */
export function table(columns, onPick) {
  const head = h('tr');
  const body = h('tbody');
  const el = h('table', { class: 'sweep-table' }, h('thead', {}, head), body);
  let sortBy = columns[0].key;
  let ascending = true;
  let last = { rows: [], shown: -1 };
  for (const column of columns) {
    head.append(h('th', { scope: 'col' }, h('button', { type: 'button', 'data-key': column.key,
      onclick: () => {
        ascending = sortBy === column.key ? !ascending : true;
        sortBy = column.key;
        draw(last.rows, last.shown);
      } }, column.label)));
  }
  function value(row, key) {
    const v = key.startsWith('values.') ? row.values[key.slice(7)] : row[key];
    return v === null || v === undefined ? Infinity : v;
  }
  function draw(rows, shown) {
    last = { rows, shown };
    const sorted = [...rows].sort((a, b) => {
      const x = value(a, sortBy);
      const y = value(b, sortBy);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    body.replaceChildren(...sorted.map((r) => h('tr', {
      class: r.index === shown ? 'shown' : r.diverged ? 'diverged' : '',
      'data-trial': String(r.index), onclick: () => onPick(r.index) },
    ...columns.map((c) => h('td', { text: c.key === 'diverged' ? (r.diverged ? 'yes' : '')
      : fmt(value(r, c.key) === Infinity ? null : value(r, c.key)) })))));
  }
  return { el, draw };
}

/**
 * The test-loss curves of every trial on one canvas (log loss axis), each kept thin: a
 * trial's curve gains a point only when a progress message shows it at a new epoch, and at
 * most MAX_CURVE_POINTS, every second point dropped past that. Returns {el, add, draw}.
 */
const MAX_CURVE_POINTS = 64;

export function curves() {
  const width = 540;
  const canvas = h('canvas', { width, height: H, class: 'sweep-curves',
    'aria-label': 'test loss of every trial against epoch' });
  const el = h('figure', { class: 'sweep-figure' }, canvas,
    h('figcaption', { text: 'test loss of every trial by epoch (log scale)' }));
  let lines = [];

  /** Start over with `count` trials. */
  function reset(count) {
    lines = Array.from({ length: count }, () => []);
  }

  /** Note trial k at `epoch` with `loss` (ignored unless its epoch is new). */
  function add(k, epoch, loss) {
    const line = lines[k];
    if (!line || !Number.isFinite(loss) || loss <= 0) return;
    if (line.length && line[line.length - 1][0] >= epoch) return;
    line.push([epoch, loss]);
    if (line.length > MAX_CURVE_POINTS) lines[k] = line.filter((_, i) => i % 2 === 0 ||
      i === line.length - 1);
  }

  function draw(epochs, shown) {
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, H);
    ctx.strokeStyle = '#bbb';
    ctx.strokeRect(PAD, 4, width - PAD - 4, H - PAD - 4);
    const all = lines.flat();
    canvas.dataset.points = String(all.length);
    if (!all.length) return;
    const losses = all.map((p) => p[1]);
    const x = scale(0, Math.max(epochs, 1), false, PAD + 4, width - 8);
    const y = scale(Math.min(...losses), Math.max(...losses), true, H - PAD - 4, 8);
    ctx.fillStyle = '#555';
    ctx.font = '10px sans-serif';
    ctx.fillText('0', PAD, H - 12);
    ctx.textAlign = 'right';
    ctx.fillText(`epoch ${epochs}`, width - 4, H - 12);
    ctx.fillText(fmt(Math.max(...losses)), PAD - 2, 12);
    ctx.fillText(fmt(Math.min(...losses)), PAD - 2, H - PAD - 4);
    ctx.textAlign = 'left';
    lines.forEach((line, k) => {
      if (line.length < 1) return;
      ctx.strokeStyle = k === shown ? '#f59322' : 'rgba(8, 119, 189, 0.25)';
      ctx.lineWidth = k === shown ? 2 : 1;
      ctx.beginPath();
      line.forEach(([epoch, loss], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(epoch),
        y(loss)));
      ctx.stroke();
    });
  }
  return { el, reset, add, draw };
}

/**
 * Parallel coordinates: one vertical axis per parameter (log where its range is log) and a
 * last one for the final test loss (log); a choice's values (`categories[i]`) evenly spaced in
 * their order; each trial a line across them, the better its loss the darker. Returns
 * {el, draw(rows, shown)}.
 */
export function parallel(paths, logs, labelOf, categories = paths.map(() => null)) {
  const width = 540;
  const canvas = h('canvas', { width, height: H, class: 'sweep-parallel',
    'aria-label': 'parallel coordinates of every parameter and the final test loss' });
  const el = h('figure', { class: 'sweep-figure' }, canvas,
    h('figcaption', { text: 'parallel coordinates: each trial a line; darker is a lower ' +
      'test loss' }));

  function draw(rows, shown) {
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, H);
    const axes = [...paths.map((path, i) => ({ name: labelOf(path), log: logs[i] && !categories[i],
      get: (r) => position(r.values[path], categories[i]) })),
    { name: 'test loss', log: true, get: (r) => r.test_loss }];
    const xs = axes.map((_, i) => 40 + (i * (width - 80)) / (axes.length - 1));
    const scales = axes.map((axis) => {
      const values = rows.map(axis.get).filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
      return values.length ? scale(Math.min(...values), Math.max(...values), axis.log, H - 24, 8)
        : null;
    });
    const losses = rows.map((r) => r.test_loss).filter(Number.isFinite);
    const best = Math.min(...losses);
    const worst = Math.max(...losses);
    let drawn = 0;
    for (const r of rows) {
      if (!Number.isFinite(r.test_loss) || scales.some((s) => !s)) continue;
      const t = worst > best ? (r.test_loss - best) / (worst - best) : 0;
      ctx.strokeStyle = r.index === shown ? '#f59322' : `rgba(8, 119, 189, ${0.85 - 0.7 * t})`;
      ctx.lineWidth = r.index === shown ? 2 : 1;
      ctx.beginPath();
      axes.forEach((axis, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, xs[i],
        scales[i](axis.get(r))));
      ctx.stroke();
      drawn += 1;
    }
    ctx.fillStyle = '#555';
    ctx.font = '10px sans-serif';
    ctx.textAlign = 'center';
    axes.forEach((axis, i) => {
      ctx.fillRect(xs[i], 8, 1, H - 32);
      ctx.fillText(axis.name, xs[i], H - 8);
    });
    ctx.textAlign = 'left';
    canvas.dataset.lines = String(drawn);
  }
  return { el, draw };
}
