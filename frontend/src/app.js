/**
 * The page's wiring: its state (the ExperimentSpec being edited, the runs the server reports,
 * or the recording of a saved experiment), the panels, the socket (socket.js), the spec's
 * edits (edits.js) and the runs held (runstore.js). Messages only record the latest state;
 * panels draw once per animation frame, so a burst of frames costs one paint.
 *
 * A lesson (/#lesson=<id>) opens with its spec and, for a lesson that compares, its variants:
 * every start trains them side by side (one frame per variant), the panels draw the selected
 * one and the charts overlay the others and the pinned references (runs.js).
 *
 * A saved experiment (/e/<id>) opens as its recording: the saved curves and final frame are
 * drawn as if they had just arrived, nothing is started, and the controls are read-only
 * until "Fork" makes an editable copy (the URL becomes that copy's setup link).
 *
 * A saved sweep (/s/<id>) opens its base spec as the playground's and its results in the
 * sweep panel (panels/sweep.js), from the saved body, without training.
 */

import { Client, socketUrl } from './socket.js';
import { RequestError, saveSetup } from './rest.js';
import { History, LayerTrace } from './history.js';
import { specPath } from './patch.js';
import { SpecEdits, raisedLimit } from './edits.js';
import { RunStore } from './runstore.js';
import { forgetToken, ownerToken, remember } from './owner.js';
import { ErrorBoard } from './fields.js';
import { fmt } from './format.js';
import { addressHash, runsLeftOutNote } from './address.js';
import { defaultView } from './view.js';
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
import * as classroom from './panels/classroom.js';
import * as draw from './panels/draw.js';
import * as hint from './panels/hint.js';
import * as images from './panels/images.js';
import * as importer from './panels/importer.js';
import * as sweep from './panels/sweep.js';
import * as upload from './panels/upload.js';

/** Frames per second asked of the server: smooth, and within one core's drawing budget
 * (never above the server's own limit). */
const FPS = 30;
/** Panels whose controls edit the spec: read-only while a recording is shown. */
const EDITORS = ['data', 'builder', 'training', 'draw', 'upload'];

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
        pending: false, error: null, finished: false, lost: false },
      view: boot.view ?? defaultView(),
      hover: null, recorded: null, savedSweep: boot.sweep ?? null,
      lesson: boot.lesson ?? null, runs: [], selected: 0, pins: [],
    };
    /** The runs trained side by side (a lesson's, a link's, a saved group's), as `start`
     * takes them; null: a single run. */
    this.variants = boot.lesson?.variants.length
      ? boot.lesson.variants.map(({ label, patch }) => ({ label, patch }))
      : boot.variants?.length ? boot.variants : null;
    this.errors = new ErrorBoard((message) => {
      this.state.status.error = message;
      this.invalidate('status');
    });
    this.runs = new RunStore(this.state);
    this.edits = new SpecEdits(this.state, schema, this.errors, {
      start: (spec, run) => this.client.start(spec, { fps: this.fps, run,
        variants: this.variants }),
      update: (patch) => this.client.update(patch),
      live: () => this.live,
      changed: (...what) => this.invalidate(...what),
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
    this.lastHash = '';
    if (boot.experiment) this.showRecording(boot.experiment);
    this.mount();
    if (!this.state.recorded) this.writeUrl();
    this.client = new Client(socketUrl(), {
      open: () => this.onOpen(),
      close: () => {
        Object.assign(this.state.status, { connected: false, running: false });
        // The server (or the replica behind a proxy) went away with the run: say so; the
        // client reconnects, and a new connection starts the spec again, paused.
        if (this.live) this.state.status.lost = true;
        if (this.live) this.state.run = null;
        this.edits.disconnected();
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
      edit: (path, value) => this.edits.editMany([[path, value]]),
      editMany: (edits) => this.edits.editMany(edits),
      control: (name, ...args) => this.control(name, ...args),
      setView: (key, value) => { this.state.view[key] = value; this.invalidate('view', 'url'); },
      setHover: (hover) => { this.state.hover = hover; this.invalidate('hover'); },
      announce: (message) => {
        const live = document.getElementById('announce');
        if (live) live.textContent = message;
      },
      share: (name, note, only) => this.share(name, note, only),
      select: (k) => this.select(k),
      pin: () => {
        const pinned = this.runs.pin();
        if (pinned) this.invalidate('pins');
        return pinned;
      },
      unpin: (id) => { this.runs.unpin(id); this.invalidate('pins'); },
      closeLesson: () => this.closeLesson(),
      checkGradients: (variant, points) => this.client.checkGradients(variant, points),
      setWeight: (variant, layer, row, col, value) => this.client.setWeight(variant, layer, row,
        col, value),
      runAgain: (device) => this.runAgain(device),
      fork: () => this.fork(),
      load: (spec, note) => this.load(spec, note),
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
      // after output: drawing happens on the Output plane
      draw.mount(at('draw'), store), upload.mount(at('upload'), store),
      classroom.mount(at('classroom'), store), hint.mount(at('hint'), store),
      importer.mount(at('import'), store),
      images.mount(at('images'), store),
      sweep.mount(at('sweep'), store),
    ];
    // The skip link moves focus without touching the hash: the hash is the setup link.
    document.querySelector('.skip-link')?.addEventListener('click', (e) => {
      e.preventDefault();
      at('builder').focus();
    });
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
      if (!el) continue;
      el.inert = readOnly;
      if (readOnly && !el.querySelector('.read-only-note')) {
        const note = document.createElement('p');
        note.className = 'read-only-note';
        note.textContent = 'Read-only: these are the saved settings. Press Fork (above) to ' +
          'edit a copy.';
        el.prepend(note);
      }
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
      run: run && { step: run.step, epoch: run.epoch,
        changes: [{ label: run.label, run }, ...(run.variants ?? [])].map(({ label, run: r }) =>
          ({ label: label ?? null, changedAt: r.spec_changed_at_step ?? null,
            weightEdits: r.weight_edits ?? 0 })) },
    };
    if (!run) return; // a setup alone: it is started (paused) once the socket opens
    // Run again and Fork train a saved group side by side again, from the same specs.
    this.variants = this.runs.adoptSaved(experiment) ?? this.variants;
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
    this.edits.start(this.state.spec, run);
    this.invalidate('recorded', 'status', 'spec');
  }

  /** Leave the recording for an editable copy: the URL becomes the copy's setup link (a new
   * history entry, so Back returns to the saved experiment). What is drawn stays until the
   * first edit or Play starts the copy. */
  fork() {
    if (!this.state.recorded) return;
    this.state.recorded = null;
    history.pushState(null, '', `/${this.address().hash}`);
    this.lastHash = location.hash;
    this.setReadOnly(false);
    this.state.status.note = 'Forked: an editable copy (the saved experiment is unchanged).';
    this.invalidate('recorded', 'status', 'spec');
  }

  /** Open a complete spec (an imported file) as a new setup: a saved experiment on show is
   * forked first, a lesson left; the run restarts with the spec, paused. */
  load(spec, note) {
    if (this.state.recorded) this.fork();
    this.state.lesson = null;
    this.variants = null;
    this.state.selected = 0;
    this.state.spec = structuredClone(spec);
    this.errors.clear();
    this.edits.start(this.state.spec, false);
    this.writeUrl();
    this.openingNote = note;
    this.state.status.note = note;
    this.invalidate('spec', 'lesson', 'pins', 'status');
  }

  /** Store the experiment and answer its id and page: the live run with its recording
   * (WebSocket `save`), or the setup alone when the server holds no run for this page. */
  async share(name, note, only = null) {
    const save = (token) => (this.live && this.client.connected
      ? this.client.save(name, note, only, token)
      : saveSetup(this.state.spec, name, note, token));
    let answer;
    try {
      answer = await save(ownerToken());
    } catch (err) {
      // A token the server does not know (its store was reset): save as a new owner.
      if (!(err instanceof RequestError && err.code === 'unknown_token')) throw err;
      forgetToken();
      answer = await save(null);
    }
    remember(answer);
    return answer;
  }

  // --- socket ---------------------------------------------------------------------------

  onOpen() {
    this.state.status.connected = true;
    if (this.state.status.lost) { // kept past the new run's `ready`, as an opening note is
      this.state.status.lost = false;
      this.openingNote = 'Reconnected: the lost run starts over from step 0.';
      this.state.status.note = this.openingNote;
    }
    this.invalidate('status');
    // A recording is shown as saved: nothing trains until Run again.
    if (this.state.run?.recorded) return;
    // A (re)connection has no run: start the spec being edited, paused.
    this.edits.start(this.state.spec, false);
  }

  onMessage(m) {
    const status = this.state.status;
    switch (m.type) {
      case 'ready': {
        this.runs.adopt(m);
        this.edits.ready(m);
        Object.assign(status, { diverged: null, note: this.openingNote, finished: false });
        this.openingNote = null;
        this.errors.clear();
        for (const { field, message } of this.linkErrors.splice(0)) this.errors.set(field, message);
        if (!this.state.recorded) this.writeUrl();
        this.invalidate('spec', 'run', 'status');
        break;
      }
      case 'frame': {
        const shown = this.runs.applyFrame(m);
        if (shown === undefined) break;
        if (shown && (status.running !== m.running || Boolean(status.diverged) !== m.diverged)) {
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

  /** Show variant k of the runs trained side by side. */
  select(k) {
    if (!this.runs.select(k)) return;
    const frame = this.state.frame;
    if (frame) this.state.status.diverged = frame.diverged ? 'This run diverged: the loss ' +
      'became NaN or infinite.' : null;
    this.invalidate('run', 'frame', 'status', 'pins');
  }

  /** Leave the lesson: its side-by-side runs end and the spec on show trains alone. */
  closeLesson() {
    if (!this.state.lesson) return;
    const spec = this.state.runs[this.state.selected]?.run.spec ?? this.state.spec;
    this.state.lesson = null;
    this.variants = null;
    this.state.selected = 0;
    this.state.spec = structuredClone(spec);
    this.edits.start(this.state.spec, this.state.status.running);
    this.writeUrl();
    this.invalidate('lesson', 'spec', 'pins');
  }

  onEvent(m) {
    const status = this.state.status;
    if (m.event === 'diverged') status.diverged = m.message;
    else if (m.event === 'finished') {
      status.finished = true;
      status.note = `Finished: reached the epoch limit (${m.epoch}). Continue raises the ` +
        'limit and trains on.';
    }
    else if (m.event === 'early_stopped') {
      status.note = `Stopped early at epoch ${m.epoch}: the test loss was best ` +
        `(${fmt(m.best_test_loss)}) at epoch ${m.best_epoch}.`;
    }
    this.invalidate('status');
  }

  onError(m) {
    const spec = this.state.spec;
    if (m.code === 'invalid_spec' || m.code === 'busy' || m.code === 'no_dataset') {
      this.edits.refused();
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

  // --- controls --------------------------------------------------------------------------

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
      if (!this.live) this.edits.start(this.state.spec, true);
      else {
        const limit = this.state.spec.training.epochs;
        if (status.finished && limit && (this.state.frame?.epoch ?? 0) >= limit) {
          // Past the limit the run would stop at once: raise it, visibly, before resuming.
          const raised = raisedLimit(this.schema, limit);
          this.edits.editMany([['training.epochs', raised]]);
          this.edits.flush();
          status.finished = false;
          client.resume();
          status.note = `Epoch limit raised from ${limit} to ${raised.toLocaleString('en-US')}.`;
          this.invalidate('status');
          return;
        }
        client.resume();
      }
      status.note = null;
    } else if (name === 'pause') client.pause();
    else if (name === 'step') {
      // No run on the server (a forked recording, a refused start): start one, then step;
      // the server takes a socket's messages in order.
      if (!this.live && !this.state.recorded) this.edits.start(this.state.spec, false);
      client.step(args[0] ?? 1, args[1] ?? 'step');
    } else if (name === 'reset') {
      if (this.live) client.reset();
      else this.edits.start(this.state.spec, false);
      status.note = null;
      status.diverged = null;
      status.finished = false;
    }
    this.invalidate('status');
  }

  /** Keep the link in the address bar (replacing, not adding, history entries). */
  writeUrl() {
    const { hash, runsLeftOut } = this.address();
    if (runsLeftOut && !this.runsLeftOut) {
      this.state.status.note = runsLeftOutNote(this.variants?.length ?? 0);
      this.invalidate('status');
    }
    this.runsLeftOut = runsLeftOut;
    this.lastHash = hash;
    if (location.hash !== hash) history.replaceState(null, '', hash || location.pathname);
  }

  address() {
    return addressHash(this.state, { defaults: this.defaults, schema: this.schema,
      variants: this.variants });
  }

  // --- drawing ---------------------------------------------------------------------------

  /** Note what changed; panels hear about it once, on the next animation frame. A change
   * of 'url' rewrites the address bar's link. */
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
    if (changes.has('url')) this.writeUrl();
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
