/**
 * Edits of the spec on show and how they reach the server. An edit is checked against the
 * schema and written into the spec; a live field (the schema's x-torchplay.live_fields:
 * optimizer, schedule, regularisation, batch size, epochs) is sent as an `update` patch
 * during a run, anything else restarts the run with the new spec, keeping its play state, as
 * TF Playground does. The edits of one moment are sent together: one restart, or their
 * patches in order.
 *
 * Starts sent and not yet answered, and the patches sent since the last start, are counted:
 * a `ready` is adopted as the page's spec only when it answers the latest start, with those
 * patches laid over it, so quick edits are never undone.
 */

import { applyPatch, isLivePath, patchFor } from './patch.js';
import { setPath } from './schema.js';

/** @typedef {import('./types.js').AppState} AppState */

/** The epoch limit Continue sets after a run reached `limit`: twice it, within the schema's
 * bound. */
export function raisedLimit(schema, limit) {
  const max = schema.node('training.epochs', null)?.maximum ?? Infinity;
  return Math.min(limit * 2, max);
}

export class SpecEdits {
  /**
   * @param {AppState} state
   * @param {import('./schema.js').Schema} schema
   * @param {import('./fields.js').ErrorBoard} errors
   * @param {{start: (spec: any, run: boolean) => boolean, update: (patch: any) => void,
   *   live: () => boolean, changed: (...what: string[]) => void}} io the socket and the app
   */
  constructor(state, schema, errors, io) {
    this.state = state;
    this.schema = schema;
    this.errors = errors;
    this.io = io;
    /** Patches waiting for the flush, sent in order as separate updates (two patches cannot
     * always be folded into one: an optimizer-kind switch drops what came before). */
    /** @type {any[]} */
    this.pendingPatches = [];
    this.restartDue = false;
    this.flushTimer = 0;
    this.startsInFlight = 0;
    /** @type {any[]} */
    this.patchesSinceStart = [];
  }

  /** Start `spec` on the server (paused unless `run`); false when not connected. */
  start(spec, run) {
    if (!this.io.start(spec, run)) return false;
    this.startsInFlight++;
    this.patchesSinceStart = [];
    this.state.status.pending = true;
    return true;
  }

  /** The connection closed: no start will be answered. */
  disconnected() {
    this.startsInFlight = 0;
  }

  /** A start was refused. */
  refused() {
    this.startsInFlight = Math.max(0, this.startsInFlight - 1);
    this.state.status.pending = this.startsInFlight > 0;
  }

  /** A `ready` answered a start: the server's spec is the agreed one, unless newer edits
   * exist (a newer start on its way, or edits not yet sent). */
  ready(m) {
    this.startsInFlight = Math.max(0, this.startsInFlight - 1);
    if (!this.state.spec || (this.startsInFlight === 0 && !this.restartDue)) {
      const patches = [...this.patchesSinceStart, ...this.pendingPatches];
      this.state.spec = patches.reduce((spec, patch) => applyPatch(spec, patch, this.schema),
        structuredClone(m.spec));
    }
    this.state.status.pending = this.startsInFlight > 0;
  }

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
      if (this.io.live() && isLivePath(path, this.schema.liveFields)) {
        this.pendingPatches.push(patchFor(path, value, spec));
      } else {
        this.restartDue = true;
      }
    }
    this.scheduleFlush();
    this.io.changed('spec');
    return true;
  }

  /** Send what the edits of this moment need, once they are all made. */
  scheduleFlush() {
    if (this.flushTimer) return;
    this.flushTimer = window.setTimeout(() => this.flush(), 0);
  }

  /** Send what the edits so far need: one restart, or their updates, in order. */
  flush() {
    window.clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    if (this.restartDue) {
      this.restartDue = false;
      this.pendingPatches = []; // the new start carries the whole spec
      this.start(this.state.spec, this.state.status.running);
      return;
    }
    if (!this.pendingPatches.length) return;
    for (const patch of this.pendingPatches.splice(0)) {
      this.io.update(patch);
      this.patchesSinceStart.push(patch);
      // The server patches every run alike; so do their specs here (the diffs read them).
      for (const r of this.state.runs) r.run.spec = applyPatch(r.run.spec, patch, this.schema);
    }
    this.io.changed('pins', 'url');
  }
}
