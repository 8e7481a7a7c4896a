/**
 * The runs a page holds: the one run (or the variants a lesson trains side by side) with
 * their curves and latest frames, which of them the panels show, and the pinned references.
 * It changes `state.runs`, `state.selected`, `state.pins` and points `state.run`, `frame`,
 * `history` and `trace` at the run on show; the App decides when.
 */

import { History, LayerTrace } from './history.js';
import { diffPatch } from './patch.js';
import { decodeRecording } from './socket.js';
import { MAX_PINS } from './runs.js';

/** @typedef {import('./types.js').AppState} AppState */

export class RunStore {
  /** @param {AppState} state */
  constructor(state) {
    this.state = state;
    this.pinsMade = 0;
  }

  /** A `ready`: one run, or the variants trained side by side, each with fresh curves. */
  adopt(m) {
    const shared = { session: m.session };
    const entries = m.variants
      ? m.variants.map((v, k) => ({ label: v.label, run: { ...shared, spec: v.spec,
        summary: v.summary, data: v.data ?? m.data, variant: k } }))
      : [{ label: 'this run', run: { ...shared, spec: m.spec, summary: m.summary, data: m.data,
        variant: 0 } }];
    this.state.runs = entries.map((e) => ({ ...e, frame: null, history: new History(),
      trace: new LayerTrace() }));
    this.state.selected = Math.min(this.state.selected, entries.length - 1);
    this.showSelected();
  }

  /**
   * Recorded runs (decoded by socket.js's decodeRecording), shown as if they had just
   * arrived: one entry per run, the first on show.
   * @param {{label: string, spec: any, summary: any, data: any, frame: any}[]} recordings
   */
  adoptRecorded(recordings) {
    this.state.runs = recordings.map(({ label, spec, summary, data, frame }, k) => {
      const history = new History();
      const trace = new LayerTrace();
      history.apply(frame.history);
      trace.add(frame);
      return { label, run: { spec, summary, data, session: null, recorded: true, variant: k },
        frame, history, trace };
    });
    this.state.selected = 0;
    this.showSelected();
  }

  /**
   * A saved experiment's recording (one run, or a group's runs, docs/experiments.md) on show;
   * answers a group's runs as `start` takes variants (null for a single run).
   * @param {any} experiment GET /api/experiments/<id>
   */
  adoptSaved(experiment) {
    const run = experiment.run;
    const group = (run.variants || []).map((/** @type {any} */ v) => ({ label: v.label,
      spec: v.spec, ...decodeRecording({ data: run.data, ...v.run }) }));
    this.adoptRecorded([{ label: run.label ?? (experiment.name || 'saved run'),
      spec: experiment.spec, ...decodeRecording(run) }, ...group]);
    if (!group.length) return null;
    return [{ label: run.label, patch: {} }, ...group.map((v) => ({ label: v.label,
      patch: diffPatch(experiment.spec, v.spec) }))];
  }

  /** A frame for variant `m.variant`: returns whether it is the run on show (undefined: no
   * such run). */
  applyFrame(m) {
    const k = m.variant ?? 0;
    const run = this.state.runs[k];
    if (!run) return undefined;
    run.history.apply(m.history);
    run.trace.add(m);
    run.frame = m;
    if (k !== this.state.selected) return false;
    this.state.frame = m;
    return true;
  }

  /** Point the panels (boundary, diagram, counters, charts) at the selected run. */
  showSelected() {
    const shown = this.state.runs[this.state.selected];
    Object.assign(this.state, { run: shown.run, frame: shown.frame, history: shown.history,
      trace: shown.trace });
  }

  /** Show variant k of the runs trained side by side; false when it is already shown. */
  select(k) {
    if (!this.state.runs[k] || k === this.state.selected) return false;
    this.state.selected = k;
    this.showSelected();
    return true;
  }

  /** Keep the run on show as a reference the charts overlay (its curves as they are now). */
  pin() {
    const shown = this.state.runs[this.state.selected];
    if (!shown?.frame || this.state.pins.length >= MAX_PINS) return false;
    this.pinsMade++;
    const where = this.state.runs.length > 1 ? `${shown.label}, ` : '';
    this.state.pins.push({ id: `pin${this.pinsMade}`,
      label: `ref ${this.pinsMade} (${where}step ${shown.frame.step.toLocaleString('en-US')})`,
      run: { ...shown.run, spec: structuredClone(shown.run.spec) }, frame: shown.frame,
      history: shown.history.clone(), trace: shown.trace.clone() });
    return true;
  }

  unpin(id) {
    this.state.pins = this.state.pins.filter((p) => p.id !== id);
  }
}
