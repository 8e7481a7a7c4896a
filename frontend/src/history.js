/**
 * The stores of a run's curves: History (every step's loss, every epoch's evaluation, as
 * columns, built from frames' history deltas) and LayerTrace (per-layer statistics sampled at
 * each frame). Pinned references keep clones.
 */

export const STEP_COLUMNS = ['step', 'loss'];
export const EVAL_COLUMNS = ['epoch', 'step', 'lr', 'train_loss', 'test_loss', 'train_metric',
  'test_metric'];
/** Per-layer columns of a frame that the page charts over time. */
export const TRACE_COLUMNS = ['act_var', 'grad_norm_weight', 'dead_fraction'];
/** Per-layer samples kept in the browser; past this the trace keeps every second one. */
export const MAX_TRACE = 4000;

/** A run's curves as columns: every training step's loss, every epoch's evaluation. */
export class History {
  constructor() {
    /** Bumped whenever what is held was replaced, so readers know to start over. */
    this.generation = 0;
    /** @type {Record<string, (number|null)[]>} */
    this.steps = {};
    /** @type {Record<string, (number|null)[]>} */
    this.evals = {};
    this.stride = { steps: 1, evals: 1 };
    this.clear();
  }

  clear() {
    this.steps = Object.fromEntries(STEP_COLUMNS.map((c) => [c, []]));
    this.evals = Object.fromEntries(EVAL_COLUMNS.map((c) => [c, []]));
    this.generation++;
  }

  /** A copy that later frames will not change (a pinned reference run). */
  clone() {
    const copy = new History();
    copy.steps = structuredClone(this.steps);
    copy.evals = structuredClone(this.evals);
    copy.stride = { ...this.stride };
    return copy;
  }

  /** Apply a frame's `history` delta (socket.js has checked its columns line up). */
  apply(delta) {
    if (delta.replace) this.clear();
    /** @type {[string, string[]][]} */
    const parts = [['steps', STEP_COLUMNS], ['evals', EVAL_COLUMNS]];
    for (const [part, columns] of parts) {
      const incoming = delta[part];
      const n = incoming[columns[0]].length;
      this.stride[part] = incoming.stride;
      for (const column of columns) {
        const source = incoming[column];
        const target = this[part][column];
        // A loop, not push(...source): a replace can carry 100,000 rows.
        for (let i = 0; i < n; i++) target.push(source[i]);
      }
    }
  }
}

/** Per-layer statistics sampled at each frame (act_var, grad norms, dead fraction). */
export class LayerTrace {
  constructor() {
    this.generation = 0;
    /** @type {string[]} */
    this.names = [];
    /** @type {number[]} */
    this.step = [];
    /** @type {Record<string, (number|null)[][]>} column -> layer -> samples */
    this.columns = {};
    this.clear([]);
  }

  clear(names) {
    this.names = names.slice();
    this.step = [];
    this.columns = Object.fromEntries(TRACE_COLUMNS.map((c) => [c, names.map(() => [])]));
    this.generation++;
  }

  /** A copy that later frames will not change (a pinned reference run). */
  clone() {
    const copy = new LayerTrace();
    copy.names = this.names.slice();
    copy.step = this.step.slice();
    copy.columns = structuredClone(this.columns);
    return copy;
  }

  /** Add a frame's sample; a new network or a step going back (reset) starts over. */
  add(frame) {
    const names = frame.layers.name;
    const last = this.step[this.step.length - 1];
    if (names.join('|') !== this.names.join('|') || (last !== undefined && frame.step < last)) {
      this.clear(names);
    }
    if (frame.step === 0 || frame.step === last) return; // nothing measured yet / no new step
    if (frame.layers.act_var.every((v) => v === null)) return;
    this.step.push(frame.step);
    for (const column of TRACE_COLUMNS) {
      const values = frame.layers[column] || [];
      this.columns[column].forEach((series, i) => series.push(values[i] ?? null));
    }
    if (this.step.length > MAX_TRACE) this.thin();
  }

  thin() {
    const keep = (a) => a.filter((_, i) => i % 2 === 1);
    this.step = keep(this.step);
    for (const column of TRACE_COLUMNS) this.columns[column] = this.columns[column].map(keep);
    this.generation++;
  }
}
