/**
 * Chart series kept small enough to redraw every frame: columns aligned on one x axis (as
 * uPlot wants them), thinned by half whenever they pass MAX_POINTS, and the debiased
 * exponential smoothing of the loss. The full history stays in history.js; these are views.
 */

/** Points per series kept for drawing; past this, pairs of rows merge into one. */
export const MAX_POINTS = 4000;

/** Columns of numbers on a shared, ascending x; null is a gap. */
export class Columns {
  /** @param {number} count value columns (besides x) */
  constructor(count, max = MAX_POINTS) {
    this.max = max;
    /** @type {number[]} */
    this.x = [];
    /** @type {(number|null)[][]} */
    this.cols = Array.from({ length: count }, () => []);
    this.stride = 1; // input rows per kept row
    this.inRow = 0; // input rows merged into the last kept row so far
  }

  /** The [x, ...columns] arrays uPlot draws. */
  get data() {
    return [this.x, ...this.cols];
  }

  /**
   * Add a row. A row at the same x as the last merges into it (a step's loss and the eval of
   * the epoch it ended share x); while thinned, `stride` rows merge into one, the latest
   * non-null value of each column winning.
   * @param {number} x @param {(number|null|undefined)[]} values
   */
  push(x, values) {
    const n = this.x.length;
    const same = n > 0 && this.x[n - 1] === x;
    if (n > 0 && (same || this.inRow < this.stride)) {
      this.x[n - 1] = x;
      values.forEach((v, i) => { if (v !== null && v !== undefined) this.cols[i][n - 1] = v; });
      if (!same) this.inRow++;
      return;
    }
    this.x.push(x);
    values.forEach((v, i) => this.cols[i].push(v ?? null));
    this.inRow = 1;
    if (this.x.length > this.max) this.halve();
  }

  halve() {
    const pairs = (a, pick) => {
      const out = [];
      for (let i = 0; i < a.length; i += 2) out.push(pick(a[i], a[i + 1]));
      return out;
    };
    const last = (a, b) => (b === undefined || b === null ? a : b);
    this.x = pairs(this.x, (a, b) => (b === undefined ? a : b));
    this.cols = this.cols.map((c) => pairs(c, last));
    this.stride *= 2;
    this.inRow = this.stride; // the last row is complete: start a new one
  }
}

/**
 * Debiased exponential moving average (as TensorBoard's smoothing): the plain EMA started at
 * 0 is divided by 1 - beta^t, so early values are not dragged towards zero.
 */
export class Smoother {
  /** @param {number} beta 0 (none) .. <1 (heavy) */
  constructor(beta) {
    this.beta = beta;
    this.ema = 0;
    this.t = 0;
  }

  /** The smoothed value after seeing `value` (null passes through as null). */
  next(value) {
    if (value === null || !Number.isFinite(value)) return null;
    this.t++;
    this.ema = this.beta * this.ema + (1 - this.beta) * value;
    return this.beta === 0 ? value : this.ema / (1 - this.beta ** this.t);
  }
}

/** Values for a log axis: zero and negatives have no place on it. */
export const positive = (v) => (v === null || v === undefined || !(v > 0) ? null : v);

/**
 * Several runs' [x, ...columns] tables on one x axis, for one uPlot chart: x is the union
 * of their x values, and each column holds null where its run has no row (series draw over
 * the gaps with spanGaps). One table passes through untouched.
 * @param {(number|null)[][][]} tables
 */
export function align(tables) {
  if (tables.length === 1) return tables[0];
  const all = new Float64Array(tables.reduce((n, t) => n + t[0].length, 0));
  let at = 0;
  for (const [x] of tables) for (const v of x) all[at++] = /** @type {number} */ (v);
  all.sort();
  /** @type {number[]} */
  const xs = [];
  for (const v of all) if (xs.length === 0 || xs[xs.length - 1] !== v) xs.push(v);
  const out = [xs];
  for (const [x, ...cols] of tables) {
    const filled = cols.map(() => new Array(xs.length).fill(null));
    let j = 0;
    for (let i = 0; i < x.length; i++) {
      while (xs[j] !== x[i]) j++; // both ascending: a walk, not a search
      cols.forEach((c, n) => { filled[n][j] = c[i]; });
    }
    out.push(...filled);
  }
  return out;
}
