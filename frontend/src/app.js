/**
 * The page: its state (the ExperimentSpec being edited, the run the server reports, or the
 * recorded run of a saved experiment) and the wiring between panels and the socket.
 *
 * Edits go through edit(): the value is checked against the schema, written into the spec,
 * then either sent as an `update` (the schema's live fields: optimizer, schedule,
 * regularisation, batch size, epochs) or, for structural fields, the run is restarted with
 * the new spec, keeping its play state, as TF Playground does. Messages only record the
 * latest state; panels draw once per animation frame, so a burst of frames costs one paint.
 *
 * A lesson (/#lesson=<id>) opens with its spec and, for a lesson that compares, its variants:
 * every start trains them side by side (one frame per variant), the panels draw the selected
 * one and the charts overlay the others and the pinned references (runs.js).
 *
 * A saved experiment (/e/<id>) opens as its recording: the saved curves and final frame are
 * drawn as if they had just arrived, nothing is started, and the controls are read-only
 * until "Fork" makes an editable copy (the URL becomes that copy's setup link).
 */

import {
  Client, History, LayerTrace, decodeRecording, isLivePath, patchFor, saveSetup, socketUrl,
  specPath,
} from './protocol.js';
import { setPath } from './schema.js';
import { ErrorBoard } from './fields.js';
import { fmt } from './format.js';
import { linkHash } from './link.js';
import { MAX_PINS } from './runs.js';
import * as header from './panels/header.js';
import * as recordedPanel from './panels/recorded.js';
import * as share from './panels/share.js';
import * as dataPanel from './panels/data.js';
import * as builder from './panels/builder.js';
import * as diagram from './panels/diagram.js';
import * as training from './panels/training.js';
import * as output from './panels/output.js';
import * as charts from './panels/charts.js';
import * as loss from './panels/loss.js';
import * as lessons from './panels/lessons.js';
import * as compare from './panels/compare.js';
import * as sweep from './panels/sweep.js';

/** Frames per second asked of the server: smooth, and within one core's drawing budget
 * (never above the server's own limit). */
const FPS = 30;
/** Panels whose controls edit the spec: read-only while a recording is shown. */
const EDITORS = ['data', 'builder', 'training'];

/** @typedef {import('./types.js').AppState} AppState */
/** @typedef {import('./types.js').Store} Store */
/** @typedef {import('./types.js').Boot} Boot */
/** @typedef {import('./types.js').Panel} Panel */

export class App {
  /** @param {import('./schema.js').Schema} schema @param {Boot} boot */
  constructor(schema, boot) {
    this.schema = schema;
    this.defaults = boot.defaults;
    this.fps = Math.min(FPS, schema.limits.max_fps ?? FPS);
    /** @type {AppState} */
    this.state = {
      spec: structuredClone(boot.spec), run: null, frame: null, history: new History(),
      trace: new LayerTrace(),
      status: { connected: false, running: false, diverged: null, note: boot.note ?? null,
        pending: false, error: null },
      view: { showTest: false, discrete: false, logLoss: true, smoothing: 0.9 },
      hover: null, recorded: null,
      lesson: boot.lesson ?? null, runs: [], selected: 0, pins: [],
    };
    /** The runs a lesson trains side by side, as `start` takes them; null: a single run. */
    this.variants = boot.lesson?.variants.length
      ? boot.lesson.variants.map(({ label, patch }) => ({ label, patch })) : null;
    this.pinsMade = 0;
    this.errors = new ErrorBoard((message) => {
      this.state.status.error = message;
      this.invalidate('status');
    });
    /** Link values the server refused: shown at their fields until edited (the first
     * `ready` would otherwise clear them). */
    this.linkErrors = boot.errors || [];
    /** A note about how the page opened, kept past the first `ready`. */
    this.openingNote = boot.note ?? null;
    /** @type {Panel[]} */
    this.panels = [];
    this.changes = new Set();
    this.scheduled = false;
    this.pendingPatch = null;
    this.restartDue = false;
    this.flushTimer = 0;
    /** Starts sent and not yet answered (ready or refusal), and the updates sent since the
     * last start: a `ready` is adopted as the page's spec only when it answers the latest
     * start, with those updates laid over it, so quick edits are never undone. */
    this.startsInFlight = 0;
    this.patchesSinceStart = [];
    this.lastHash = '';
    if (boot.experiment) this.showRecording(boot.experiment);
    this.mount();
    if (!this.state.recorded) this.writeUrl(this.state.spec);
    this.client = new Client(socketUrl(), {
      open: () => this.onOpen(),
      close: () => {
        Object.assign(this.state.status, { connected: false, running: false });
        if (this.live) this.state.run = null;
        this.startsInFlight = 0;
        this.invalidate('status');
      },
      message: (m) => this.onMessage(m),
      invalid: (err) => { this.state.status.note = err.message; this.invalidate('status'); },
    });
    // A link edited by hand in the address bar, or Back after a fork: open what it says.
    window.addEventListener('hashchange', () => {
      if (location.hash !== this.lastHash && !this.state.recorded) location.reload();
    });
    window.addEventListener('popstate', () => location.reload());
  }

  /** Whether the server holds a run for this page (a recording shown is not one). */
  get live() {
    return Boolean(this.state.run && !this.state.run.recorded);
  }

  /** @returns {Store} */
  get store() {
    return {
      state: this.state, schema: this.schema, errors: this.errors,
      edit: (path, value) => this.editMany([[path, value]]),
      editMany: (edits) => this.editMany(edits),
      control: (name, ...args) => this.control(name, ...args),
      setView: (key, value) => { this.state.view[key] = value; this.invalidate('view'); },
      setHover: (hover) => { this.state.hover = hover; this.invalidate('hover'); },
      announce: (message) => {
        const live = document.getElementById('announce');
        if (live) live.textContent = message;
      },
      share: (name, note) => this.share(name, note),
      select: (k) => this.select(k),
      pin: () => this.pin(),
      unpin: (id) => this.unpin(id),
      closeLesson: () => this.closeLesson(),
      checkGradients: (variant, points) => this.client.checkGradients(variant, points),
      runAgain: (device) => this.runAgain(device),
      fork: () => this.fork(),
    };
  }

  mount() {
    const store = this.store;
    const at = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
    this.panels = [
      header.mount(at('header'), store), share.mount(at('share'), store),
      recordedPanel.mount(at('recorded'), store), dataPanel.mount(at('data'), store),
      builder.mount(at('builder'), store), diagram.mount(at('diagram'), store),
      training.mount(at('training'), store), output.mount(at('output'), store),
      loss.mount(at('loss'), store), charts.mount(at('charts'), store),
      lessons.mount(at('lesson'), store), compare.mount(at('compare'), store),
      sweep.mount(at('sweep'), store),
    ];
    document.body.classList.remove('loading');
    this.setReadOnly(Boolean(this.state.recorded));
    for (const { field, message } of this.linkErrors) this.errors.set(field, message);
    this.invalidate('spec', 'run', 'status', 'recorded', 'frame');
  }

  /** While a recording is shown its settings are what was run: the editing panels are
   * inert (Fork makes an editable copy); the view toggles and charts stay usable. */
  setReadOnly(readOnly) {
    for (const id of EDITORS) {
      const el = document.getElementById(id);
      if (el) el.inert = readOnly;
    }
    document.body.classList.toggle('recorded', readOnly);
  }

  // --- a saved experiment -----------------------------------------------------------------

  /** Show a saved experiment: its recorded run drawn as the live page draws a run (its
   * `ready` and one frame carrying the whole history), nothing started. */
  showRecording(experiment) {
    const run = experiment.run;
    this.state.recorded = {
      id: experiment.id, name: experiment.name, note: experiment.note,
      created: experiment.created, links: experiment.links, replaying: false, problem: null,
      run: run && { step: run.step, epoch: run.epoch, changedAt: run.spec_changed_at_step },
    };
    if (!run) return; // a setup alone: it is started (paused) once the socket opens
    const { summary, data, frame } = decodeRecording(run);
    this.state.run = { spec: experiment.spec, summary, data, session: null, recorded: true,
      variant: 0 };
    this.state.history.apply(frame.history);
    this.state.trace.add(frame);
    this.state.frame = frame;
    this.state.runs = [{ label: experiment.name || 'saved run', run: this.state.run, frame,
      history: this.state.history, trace: this.state.trace }];
    this.state.status.running = false;
  }

  /** Start the shown experiment's spec from step 0: same spec and seed, same run.
   * @param {string} [device] another device (the saved one is missing on this server)
   * @param {boolean} [run] train at once (else wait at step 0) */
  runAgain(device, run = true) {
    const recorded = this.state.recorded;
    if (!recorded) return;
    if (device) this.state.spec.training.device = device;
    recorded.problem = null;
    recorded.replaying = true;
    this.errors.clear();
    this.start(this.state.spec, run);
    this.invalidate('recorded', 'status', 'spec');
  }

  /** Leave the recording for an editable copy: the URL becomes the copy's setup link (a new
   * history entry, so Back returns to the saved experiment). What is drawn stays until the
   * first edit or Play starts the copy. */
  fork() {
    if (!this.state.recorded) return;
    this.state.recorded = null;
    history.pushState(null, '', `/${linkHash(this.state.spec, this.defaults, this.schema)}`);
    this.lastHash = location.hash;
    this.setReadOnly(false);
    this.state.status.note = 'Forked: an editable copy (the saved experiment is unchanged).';
    this.invalidate('recorded', 'status', 'spec');
  }

  /** Store the experiment and answer its id and page: the live run with its recording
   * (WebSocket `save`), or the setup alone when the server holds no run for this page. */
  async share(name, note) {
    if (this.live && this.client.connected) return this.client.save(name, note);
    return saveSetup(this.state.spec, name, note);
  }

  // --- socket ---------------------------------------------------------------------------

  onOpen() {
    this.state.status.connected = true;
    this.invalidate('status');
    // A recording is shown as saved: nothing trains until Run again.
    if (this.state.run?.recorded) return;
    // A (re)connection has no run: start the spec being edited, paused.
    this.start(this.state.spec, false);
  }

  start(spec, run) {
    if (this.client.start(spec, { fps: this.fps, run, variants: this.variants })) {
      this.startsInFlight++;
      this.patchesSinceStart = [];
      this.state.status.pending = true;
    }
  }

  onMessage(m) {
    const status = this.state.status;
    switch (m.type) {
      case 'ready': {
        this.startsInFlight = Math.max(0, this.startsInFlight - 1);
        this.adoptRuns(m);
        // The server's spec is the agreed one, unless newer edits exist: a newer start on its
        // way, or edits not yet sent (a restart due, or a patch waiting for the flush).
        if (!this.state.spec || (this.startsInFlight === 0 && !this.restartDue)) {
          const patches = [...this.patchesSinceStart, this.pendingPatch].filter(Boolean);
          this.state.spec = patches.reduce((spec, patch) =>
            mergePatch(spec, structuredClone(patch)), structuredClone(m.spec));
        }
        Object.assign(status, { pending: this.startsInFlight > 0, diverged: null,
          note: this.openingNote });
        this.openingNote = null;
        this.errors.clear();
        for (const { field, message } of this.linkErrors.splice(0)) this.errors.set(field, message);
        if (!this.state.recorded) this.writeUrl(this.state.spec);
        this.invalidate('spec', 'run', 'status');
        break;
      }
      case 'frame': {
        const k = m.variant ?? 0;
        const run = this.state.runs[k];
        if (!run) break;
        run.history.apply(m.history);
        run.trace.add(m);
        run.frame = m;
        if (k !== this.state.selected) {
          this.invalidate('frame');
          break;
        }
        this.state.frame = m;
        if (status.running !== m.running || Boolean(status.diverged) !== m.diverged) {
          status.running = m.running;
          if (!m.diverged) status.diverged = null;
          else status.diverged ||= 'The loss became NaN or infinite: lower the learning rate ' +
            'and reset.';
          this.invalidate('status');
        }
        this.invalidate('frame');
        break;
      }
      case 'event':
        this.onEvent(m);
        break;
      case 'error':
        this.onError(m);
        break;
      default:
        break;
    }
  }

  /** A `ready`: one run, or the variants trained side by side, each with fresh curves. */
  adoptRuns(m) {
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

  /** Point the panels (boundary, diagram, counters, charts) at the selected run. */
  showSelected() {
    const shown = this.state.runs[this.state.selected];
    Object.assign(this.state, { run: shown.run, frame: shown.frame, history: shown.history,
      trace: shown.trace });
  }

  /** Show variant k of the runs trained side by side. */
  select(k) {
    if (!this.state.runs[k] || k === this.state.selected) return;
    this.state.selected = k;
    this.showSelected();
    const frame = this.state.frame;
    if (frame) this.state.status.diverged = frame.diverged ? 'This run diverged: the loss ' +
      'became NaN or infinite.' : null;
    this.invalidate('run', 'frame', 'status', 'pins');
  }

  /** Keep the run on show as a reference the charts overlay (its curves as they are now). */
  pin() {
    const shown = this.state.runs[this.state.selected];
    if (!shown?.frame || this.state.pins.length >= MAX_PINS) return false;
    this.pinsMade++;
    const where = this.state.runs.length > 1 ? `${shown.label}, ` : '';
    this.state.pins.push({ id: `pin${this.pinsMade}`,
      label: `ref ${this.pinsMade} (${where}step ${shown.frame.step.toLocaleString('en-US')})`,
      run: { ...shown.run, spec: structuredClone(shown.run.spec) }, frame: shown.frame, history: shown.history.clone(),
      trace: shown.trace.clone() });
    this.invalidate('pins');
    return true;
  }

  unpin(id) {
    this.state.pins = this.state.pins.filter((p) => p.id !== id);
    this.invalidate('pins');
  }

  /** Leave the lesson: its side-by-side runs end and the spec on show trains alone. */
  closeLesson() {
    if (!this.state.lesson) return;
    const spec = this.state.runs[this.state.selected]?.run.spec ?? this.state.spec;
    this.state.lesson = null;
    this.variants = null;
    this.state.selected = 0;
    this.state.spec = structuredClone(spec);
    this.start(this.state.spec, this.state.status.running);
    this.writeUrl(this.state.spec);
    this.invalidate('lesson', 'spec', 'pins');
  }

  onEvent(m) {
    const status = this.state.status;
    if (m.event === 'diverged') status.diverged = m.message;
    else if (m.event === 'finished') status.note = `Finished: reached epoch ${m.epoch}.`;
    else if (m.event === 'early_stopped') {
      status.note = `Stopped early at epoch ${m.epoch}: the test loss was best ` +
        `(${fmt(m.best_test_loss)}) at epoch ${m.best_epoch}.`;
    }
    this.invalidate('status');
  }

  onError(m) {
    const spec = this.state.spec;
    if (m.code === 'invalid_spec' || m.code === 'busy') {
      this.startsInFlight = Math.max(0, this.startsInFlight - 1);
      this.state.status.pending = this.startsInFlight > 0;
      const recorded = this.state.recorded;
      if (recorded && m.code === 'invalid_spec') {
        // Run again refused (a device this server lacks): the banner says so and offers a fix.
        recorded.problem = { message: m.message, field: specPath(m.field, spec) };
        recorded.replaying = this.live;
        this.invalidate('recorded');
      } else if (!this.live) {
        this.state.status.note = 'No run yet: fix the fields marked in red, then press Play.';
      }
    }
    if (m.code === 'no_session') {
      // The run is gone (the server ends it when a start is refused after it began
      // building): the next Play starts the spec afresh.
      this.state.run = null;
      this.state.status.running = false;
      this.state.status.note = 'No run on the server: fix any field marked in red, then press Play.';
      this.invalidate('status', 'run');
      return;
    }
    const problems = m.errors?.length ? m.errors : [{ field: m.field, message: m.message }];
    for (const problem of problems) {
      const path = specPath(problem.field, spec);
      const inSpec = /^(spec|patch)(\.|$)/.test(problem.field || '');
      this.errors.set(inSpec ? path : '', problem.message);
    }
    this.invalidate('status');
  }

  // --- edits and controls ----------------------------------------------------------------

  /** Apply edits if every value passes the schema; returns false (and shows why) if not. */
  editMany(edits) {
    const spec = this.state.spec;
    if (!spec || this.state.recorded) return false; // a recording's settings are fixed
    let ok = true;
    for (const [path, value] of edits) {
      const problem = this.schema.check(path, value, spec);
      if (problem) { this.errors.set(path, problem); ok = false; }
    }
    if (!ok) return false;
    for (const [path, value] of edits) {
      this.errors.clear(path);
      setPath(spec, path, structuredClone(value));
      // The server handles a socket's messages in order, so an update sent right after a
      // start applies to the new run: only "is there a run at all" matters here.
      if (this.live && isLivePath(path, this.schema.liveFields)) {
        this.pendingPatch = mergePatch(this.pendingPatch || {}, patchFor(path, value, spec));
      } else {
        this.restartDue = true;
      }
    }
    this.scheduleFlush();
    this.invalidate('spec');
    return true;
  }

  /** Send what the edits of this moment need: one restart, or one merged update. */
  scheduleFlush() {
    if (this.flushTimer) return;
    this.flushTimer = window.setTimeout(() => {
      this.flushTimer = 0;
      if (this.restartDue) {
        this.restartDue = false;
        this.pendingPatch = null; // the new start carries the whole spec
        this.start(this.state.spec, this.state.status.running);
      } else if (this.pendingPatch) {
        this.client.update(this.pendingPatch);
        this.patchesSinceStart.push(this.pendingPatch);
        // The server patches every run alike; so do their specs here (the diffs read them).
        for (const r of this.state.runs) mergePatch(r.run.spec, structuredClone(this.pendingPatch));
        this.invalidate('pins');
        this.pendingPatch = null;
        this.writeUrl(this.state.spec); // a restart writes it on `ready`, once agreed
      }
    }, 0);
  }

  control(name, ...args) {
    const client = this.client;
    const status = this.state.status;
    if (this.state.recorded && !this.live) {
      // A recording is not a run: Play is Run again; Step and Reset start it paused.
      if (name === 'pause') return;
      this.runAgain(undefined, name === 'play');
      if (name !== 'step') return;
    }
    if (name === 'play') {
      if (!this.live) this.start(this.state.spec, true);
      else client.resume();
      status.note = null;
    } else if (name === 'pause') client.pause();
    else if (name === 'step') {
      // No run on the server (a forked recording, a refused start): start one, then step;
      // the server takes a socket's messages in order.
      if (!this.live && !this.state.recorded) this.start(this.state.spec, false);
      client.step(args[0] ?? 1, args[1] ?? 'step');
    } else if (name === 'reset') {
      if (this.live) client.reset();
      else this.start(this.state.spec, false);
      status.note = null;
      status.diverged = null;
    }
    this.invalidate('status');
  }

  /** Keep the setup link in the address bar (replacing, not adding, history entries). */
  writeUrl(spec) {
    const lesson = this.state.lesson;
    const hash = lesson && JSON.stringify(spec) === JSON.stringify(lesson.spec)
      ? `#lesson=${lesson.id}` : linkHash(spec, this.defaults, this.schema);
    this.lastHash = hash;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  // --- drawing ---------------------------------------------------------------------------

  /** Note what changed; panels hear about it once, on the next animation frame. */
  invalidate(...what) {
    what.forEach((w) => this.changes.add(w));
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.render());
  }

  render() {
    this.scheduled = false;
    if (!this.state.spec) return;
    const changes = this.changes;
    this.changes = new Set();
    for (const panel of this.panels) {
      try {
        panel.update(this.state, changes);
      } catch (err) {
        console.error(err); // one broken panel must not stop the others drawing
      }
    }
    this.drawn = (this.drawn || 0) + 1;
  }
}

function mergePatch(a, b) {
  for (const [key, value] of Object.entries(b)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && a[key]) {
      mergePatch(a[key], value);
    } else a[key] = value;
  }
  return a;
}
