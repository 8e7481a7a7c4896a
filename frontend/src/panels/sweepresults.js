/**
 * The results half of the sweep panel: the plan line, the status line, the trial on show (its
 * boundary and figures), the saved sweep's link, and the views of every trial (a scatter per
 * parameter, parallel coordinates, every trial's curve, the sortable table: sweepviews.js).
 * It draws from the sweep's messages (`sweep_ready`, `sweep_progress`, `frame`) or from a
 * saved sweep (GET /api/sweeps/<id>), the same way; clicking a trial calls `onPick(k)`.
 */

import { paintGrid } from '../colors.js';
import { h } from '../fields.js';
import { deleteSweep, owns } from '../owner.js';
import { decodeBase64 } from '../socket.js';
import { curves, fmt, parallel, scatter, table } from '../sweepviews.js';
import { label } from './sweepform.js';

/** @param {(k: number) => void} onPick */
export function sweepResults(onPick) {
  const plan = h('p', { id: 'sweep-plan', class: 'muted', 'aria-live': 'polite' });
  const status = h('p', { id: 'sweep-status', class: 'muted' });
  const trialInfo = h('p', { id: 'sweep-trial' });
  const boundary = h('canvas', { id: 'sweep-boundary', width: 100, height: 100,
    'aria-label': 'the shown trial\'s output over the data', hidden: true });
  const link = h('div', { id: 'sweep-link' });
  const figures = h('div', { class: 'sweep-figures' });
  const tableWrap = h('div', { class: 'sweep-table-wrap' });
  const lines = curves();
  /** @type {any} */
  let ready = null;
  /** @type {any[]} */
  let rows = [];
  let views = [];
  let grid = null;
  let shown = 0;

  function redraw() {
    for (const v of views) v.draw(rows, shown, 'test_loss');
    grid?.draw(rows, shown);
    if (ready) lines.draw(ready.sweep.epochs, shown);
  }

  /** Draw the plan and empty views for `message` (a `sweep_ready`, or a saved sweep's). */
  function begin(message) {
    ready = message;
    shown = 0;
    rows = message.trials.map((t) => ({ ...t, epoch: 0, test_loss: null, test_metric: null,
      diverged: false }));
    const groups = message.groups;
    plan.textContent = `${rows.length} trials in ${groups.length} group` +
      `${groups.length > 1 ? 's' : ''}: ` + groups.map((g, i) =>
      `group ${i}: ${g.trials.length} ${g.path} (${g.why})`).join('; ') +
      (message.where === 'ray' ? '; each group a task on the server\'s Ray cluster (no ' +
        'live view of a trial there: open it as a run to watch it train)' : '');
    const paths = message.sweep.parameters.map((p) => p.path);
    const choices = message.sweep.parameters.map((p) => (p.kind === 'choice' ? p.values : null));
    views = paths.map((path, i) => scatter(path, message.log[path], 'final test loss', onPick,
      choices[i]));
    lines.reset(rows.length);
    const across = parallel(paths, paths.map((path) => message.log[path]), label, choices);
    views.push({ el: across.el, draw: (r, k) => across.draw(r, k) });
    figures.replaceChildren(...views.map((v) => v.el), lines.el);
    grid = table([{ key: 'index', label: '#' },
      ...paths.map((path) => ({ key: `values.${path}`, label: label(path) })),
      { key: 'epoch', label: 'epochs' }, { key: 'test_loss', label: 'test loss' },
      { key: 'test_metric', label: 'test accuracy / R²' },
      { key: 'diverged', label: 'diverged' }], onPick);
    tableWrap.replaceChildren(grid.el);
    link.replaceChildren();
    redraw();
  }

  function finished(done) {
    const ended = rows.filter((r) => r.epoch >= ready.sweep.epochs || r.diverged).length;
    const diverged = rows.filter((r) => r.diverged).length;
    say(done ? `done: ${rows.length} trials, ${diverged} diverged`
      : `training: ${ended} of ${rows.length} trials finished`);
  }

  /** A line in the status; `error` marks a refusal or failure. */
  function say(text, error = false) {
    status.textContent = text;
    status.classList.toggle('error', error);
  }

  /** The sweep's short link, with a copy button and its CSV; Delete when this browser
   * saved it (it holds the owner token). */
  function showLink(id, page, csv) {
    const url = h('input', { id: 'sweep-url', type: 'text', readonly: true,
      value: new URL(page, location.href).href, 'aria-label': 'Link to the saved sweep' });
    const copied = h('span', { class: 'muted', role: 'status' });
    const copy = h('button', { type: 'button', onclick: async () => {
      url.select();
      try {
        await navigator.clipboard.writeText(url.value);
        copied.textContent = 'copied';
      } catch {
        copied.textContent = 'select the link and copy it';
      }
    } }, 'Copy');
    const remove = owns(id) ? h('button', { type: 'button', id: 'sweep-delete',
      onclick: async () => {
        if (!confirm('Delete this saved sweep? Its link will stop working.')) return;
        try {
          await deleteSweep(id);
          link.replaceChildren(h('p', { role: 'status' }, 'Deleted: its link answers “No such ' +
            'sweep” from now on.'));
        } catch (error) {
          say(`Not deleted: ${error.message}`, true);
        }
      } }, 'Delete') : null;
    link.replaceChildren(h('p', {}, 'Saved: ', h('a', { href: page, text: page }), ' · ',
      h('a', { href: csv, text: 'results.csv', download: '' })), url, copy, copied,
    ...(remove ? [remove] : []));
  }

  /** The shown trial's output over the data's window (a grid; 1-D curves are not drawn). */
  function drawBoundary(out) {
    boundary.hidden = !out || out.kind === 'curve';
    if (boundary.hidden) return;
    boundary.width = out.size;
    boundary.height = out.size;
    const ctx = boundary.getContext('2d');
    const image = ctx.createImageData(out.size, out.size);
    paintGrid(image.data, decodeBase64(out.values), { kind: out.kind, classes: out.classes,
      confidence: out.confidence ? decodeBase64(out.confidence) : undefined });
    ctx.putImageData(image, 0, 0);
    boundary.dataset.trial = String(shown);
  }

  return {
    el: [plan, status, h('div', { class: 'sweep-trial' }, boundary, trialInfo), link, figures,
      tableWrap],
    begin,
    say,
    showLink,
    get ready() { return ready; },
    get rows() { return rows; },
    /** A `sweep_progress`: every trial's row; whether the sweep is done. */
    progress(message) {
      message.trials.forEach(([epoch, testLoss, testMetric, diverged], k) => {
        Object.assign(rows[k], { epoch, test_loss: testLoss, test_metric: testMetric,
          diverged });
        lines.add(k, epoch, testLoss);
      });
      finished(message.done);
      redraw();
    },
    /** The shown trial's full frame. */
    frame(message) {
      if (message.variant !== shown) return;
      trialInfo.textContent = `trial ${shown}: step ${message.step}, epoch ${message.epoch}, ` +
        `test loss ${fmt(message.test_loss)}, test ${message.metric} ` +
        `${fmt(message.test_metric)}`;
      drawBoundary(message.output);
    },
    /** Show trial k (its saved figures when `savedOnly`: no frame will come). */
    show(k, savedOnly) {
      shown = k;
      if (savedOnly) {
        const r = rows[k];
        trialInfo.textContent = `trial ${k} (saved): ${r.epoch} epochs, test loss ` +
          `${fmt(r.test_loss)}, test ${ready.metric} ${fmt(r.test_metric)}`;
      }
      redraw();
    },
    /** A saved sweep (GET /api/sweeps/<id>): plan, views, curves and link at once. */
    open(body) {
      begin({ ...body, trials: body.results });
      body.results.forEach((r, k) => Object.assign(rows[k], r, { epoch: r.epochs }));
      (body.curves || []).forEach((curve, k) => curve.forEach(([epoch, loss]) =>
        lines.add(k, epoch, loss)));
      finished(true);
      status.textContent += ` · saved ${body.created.slice(0, 10)}` +
        `${body.name ? ` as “${body.name}”` : ''}`;
      showLink(body.id, body.links.page, body.links.csv);
    },
  };
}
