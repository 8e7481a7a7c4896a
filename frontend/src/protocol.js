/**
 * The one module of the page that knows the wire format: the WebSocket client
 * (docs/protocol.md) and the REST routes (docs/experiments.md). It connects (and
 * reconnects), sends typed controls, checks and decodes every incoming message (base64 grids
 * become Uint8Arrays), keeps a run's curves as columnar arrays by applying each frame's
 * history delta (`replace` drops what is held), and turns a saved experiment's recorded run
 * into the `ready` and `frame` the live page already draws.
 */

export const STEP_COLUMNS = ['step', 'loss'];
export const EVAL_COLUMNS = ['epoch', 'step', 'lr', 'train_loss', 'test_loss', 'train_metric',
  'test_metric'];
/** Per-layer columns of a frame that the page charts over time. */
export const TRACE_COLUMNS = ['act_var', 'grad_norm_weight', 'dead_fraction'];
/** Per-layer samples kept in the browser; past this the trace keeps every second one. */
export const MAX_TRACE = 4000;

/** The page's socket address: /ws on the server that served the page. */
export function socketUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * True when a change at this spec path can be sent as an `update` during a run.
 * @param {string} path @param {string[]} liveFields the schema's x-torchplay.live_fields
 */
export function isLivePath(path, liveFields) {
  return liveFields.some((live) => path === live || path.startsWith(`${live}.`));
}

/**
 * The JSON merge patch that sets `path` to `value`. Optimizer patches carry the current
 * kind: a patch without it would be read against the server's copy, and naming it keeps
 * "same kind: change in place" explicit.
 */
export function patchFor(path, value, spec) {
  const parts = path.split('.');
  /** @type {Record<string, any>} */
  const patch = {};
  let target = patch;
  parts.slice(0, -1).forEach((part) => { target = target[part] = {}; });
  target[parts[parts.length - 1]] = value;
  if (parts[0] === 'optimizer' && parts.length > 1) patch.optimizer.kind = spec.optimizer.kind;
  return patch;
}

/**
 * The spec path an error's `field` names: without the "spec."/"patch." prefix and without
 * union tags the server may put in the path ("optimizer.sgd.lr" when the patch named no kind).
 */
export function specPath(field, spec) {
  if (!field) return '';
  const parts = field.split('.');
  if (parts[0] === 'spec' || parts[0] === 'patch') parts.shift();
  const out = [];
  let value = spec;
  parts.forEach((part, i) => {
    const isTag = value && typeof value === 'object' && !(part in value) &&
      (value.kind === part || value.type === part) && i < parts.length - 1;
    if (isTag) return;
    out.push(part);
    value = value?.[part];
  });
  return out.join('.');
}

export class ProtocolError extends Error {}

/** A request the server refused, with the error body's fields (docs/protocol.md#error). */
export class RequestError extends Error {
  /** @param {{code: string, message: string, field?: string|null, errors?: any[]}} body
   * @param {number} [status] the HTTP status (REST only) */
  constructor(body, status = 0) {
    super(body.message);
    this.code = body.code;
    this.field = body.field ?? null;
    this.errors = body.errors?.length ? body.errors : [{ field: this.field, message: body.message }];
    this.status = status;
  }
}

/** Error codes that can only answer a `save`. */
const SAVE_ERRORS = ['no_session', 'save_failed', 'not_supported', 'unknown_token',
  'rate_limited', 'quota_exceeded', 'storage_full'];

function need(ok, what) {
  if (!ok) throw new ProtocolError(`unexpected message from the server: ${what}`);
}

/** Bytes of a base64 string (the browser's native decoder when it has one). */
export function decodeBase64(text) {
  // @ts-ignore: Uint8Array.fromBase64 is recent (2025); fall back to atob elsewhere.
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const OUTPUT_KINDS = ['probability', 'classes', 'value', 'curve'];

/** Check a frame's shape and turn its base64 grids into bytes (in place). */
function decodeFrame(m) {
  need(Number.isInteger(m.step) && Number.isInteger(m.epoch), 'frame without step/epoch');
  need(typeof m.running === 'boolean', 'frame without running');
  need(m.layers && Array.isArray(m.layers.name), 'frame without layers');
  for (const column of Object.values(m.layers)) {
    need(Array.isArray(column) && column.length === m.layers.name.length, 'ragged layers');
  }
  const out = m.output;
  need(out && OUTPUT_KINDS.includes(out.kind), 'frame with an unknown output kind');
  if (out.kind === 'curve') {
    need(Array.isArray(out.x) && Array.isArray(out.y) && out.x.length === out.y.length,
      'curve without x/y');
  } else {
    out.values = decodeBase64(out.values);
    need(out.values.length === out.size * out.size, 'output grid of the wrong size');
    if (out.kind === 'classes') out.confidence = decodeBase64(out.confidence);
  }
  for (const column of m.neurons || []) {
    column.maps = decodeBase64(column.maps);
    need(column.maps.length === column.shown * column.height * column.width,
      'neuron maps of the wrong size');
  }
  for (const link of m.links || []) {
    need(link.values.length === link.shape[0] * link.shape[1], 'links of the wrong size');
  }
  need(m.history && m.history.steps && m.history.evals, 'frame without history');
  return m;
}

/** Parse and check one server message; throws ProtocolError when it is not as documented. */
export function decode(text) {
  const m = JSON.parse(text);
  need(m && typeof m.type === 'string', 'no type');
  switch (m.type) {
    case 'frame': return decodeFrame(m);
    case 'ready':
      need(m.spec && m.summary && m.data, 'ready without spec/summary/data');
      need(Array.isArray(m.data.extent) && m.data.extent.length === 4, 'ready without extent');
      need(m.variants === undefined || (Array.isArray(m.variants) && m.variants.every(
        (v) => v.spec && v.summary && typeof v.label === 'string')), 'ready with bad variants');
      return m;
    case 'event': need(typeof m.event === 'string', 'event without name'); return m;
    case 'error': need(typeof m.code === 'string', 'error without code'); return m;
    case 'saved':
      need(typeof m.id === 'string' && typeof m.url === 'string', 'saved without id/url');
      return m;
    case 'pong': return m;
    case 'gradient_check':
      need(Array.isArray(m.layers) && Number.isInteger(m.variant), 'gradient_check without layers');
      return m;
    default: throw new ProtocolError(`unknown message type ${m.type}`);
  }
}

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

  /** Apply a frame's `history` delta. */
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
        need(Array.isArray(source) && source.length === n, `ragged history.${part}`);
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

/**
 * The socket: typed controls out, checked messages in, reconnecting with backoff.
 * handlers: open(), close(), message(msg), invalid(error).
 */
export class Client {
  /**
   * @param {string} url ws://host/ws
   * @param {{open?: () => void, close?: () => void, message: (m: any) => void,
   *          invalid?: (e: Error) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.retries = 0;
    this.closed = false;
    /** Messages sent, by type: lets a test see that a page sent no `start`. */
    /** @type {Record<string, number>} */
    this.sent = {};
    /** The `save` waiting for its answer. */
    /** @type {{resolve: (m: any) => void, reject: (e: ProtocolError) => void}|null} */
    this.saving = null;
    /** The gradient check waiting for its answer. */
    /** @type {{resolve: (m: any) => void, reject: (e: RequestError) => void}|null} */
    this.checking = null;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => { this.retries = 0; this.handlers.open?.(); };
    ws.onmessage = (event) => {
      let message;
      try {
        message = decode(event.data);
      } catch (err) {
        this.handlers.invalid?.(/** @type {Error} */ (err));
        return;
      }
      if (this.answersSave(message) || this.answersCheck(message)) return;
      this.handlers.message(message);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.saving?.reject(new RequestError({ code: 'closed', message: 'the connection to the ' +
        'server closed before the run was saved; nothing may have been saved' }));
      this.saving = null;
      this.checking?.reject(new RequestError({ code: 'closed', message: 'the connection to ' +
        'the server closed during the check' }));
      this.checking = null;
      this.handlers.close?.();
      if (this.closed) return;
      const delay = Math.min(10_000, 500 * 2 ** this.retries++);
      setTimeout(() => this.connect(), delay);
    };
  }

  get connected() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(message));
    this.sent[message.type] = (this.sent[message.type] || 0) + 1;
    return true;
  }

  /**
   * Store the run as it stands: resolves with the `saved` message once the server has it on
   * disk, rejects with a RequestError (`field` "name"/"note" when one of those was refused).
   * @param {string} name @param {string} note @param {string|null} token the owner token
   * @returns {Promise<{id: string, url: string, token: string|null, step: number,
   *   epoch: number}>}
   */
  save(name, note, token = null) {
    if (this.saving) {
      return Promise.reject(new RequestError({ code: 'busy', message: 'a save is under way' }));
    }
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'save', name, note, token })) {
        reject(new RequestError({ code: 'closed', message: 'not connected to the server' }));
        return;
      }
      this.saving = { resolve, reject };
    });
  }

  /** Whether `m` answers the pending gradient check (then it is handled here). */
  answersCheck(m) {
    const pending = this.checking;
    if (!pending) return false;
    if (m.type === 'gradient_check') pending.resolve(m);
    else if (m.type === 'error' && (m.code === 'too_large' || m.code === 'no_session' ||
      ['variant', 'points'].includes(m.field))) pending.reject(new RequestError(m));
    else return false;
    this.checking = null;
    return true;
  }

  /** Whether `m` answers the pending `save` (then it is handled here, not passed on). The
   * server answers messages in order and holds later ones until the save is answered, so the
   * first `saved`, or an error only a save can cause, is its answer. */
  answersSave(m) {
    if (!this.saving) return false;
    const pending = this.saving;
    if (m.type === 'saved') pending.resolve(m);
    else if (m.type === 'error' && (SAVE_ERRORS.includes(m.code) ||
      ['name', 'note'].includes(m.field))) pending.reject(new RequestError(m));
    else return false;
    this.saving = null;
    return true;
  }

  /** @param {{fps?: number, run?: boolean, variants?: {label: string, patch: object}[]|null}}
   *  [options] variants: train these side by side (docs/protocol.md) */
  start(spec, { fps = 30, run = true, variants = null } = {}) {
    return this.send({ type: 'start', spec, fps, run, ...(variants ? { variants } : {}) });
  }

  /**
   * Autograd against finite differences for one run (docs/protocol.md): resolves with the
   * `gradient_check` answer, rejects with a RequestError. The server answers a socket's
   * messages in order, so the first such answer (or error naming this request) is ours.
   * @param {number} variant @param {number} points
   */
  checkGradients(variant, points) {
    if (this.checking) {
      return Promise.reject(new RequestError({ code: 'busy', message: 'a check is under way' }));
    }
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'check_gradients', variant, points })) {
        reject(new RequestError({ code: 'closed', message: 'not connected to the server' }));
        return;
      }
      this.checking = { resolve, reject };
    });
  }
  pause() { return this.send({ type: 'pause' }); }
  resume() { return this.send({ type: 'resume' }); }
  step(n = 1, unit = 'step') { return this.send({ type: 'step', n, unit }); }
  reset() { return this.send({ type: 'reset' }); }
  update(patch) { return this.send({ type: 'update', patch }); }
  rate(fps) { return this.send({ type: 'rate', fps }); }
  stop() { return this.send({ type: 'stop' }); }
  ping(id) { return this.send({ type: 'ping', id }); }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}

// --- REST (docs/experiments.md) --------------------------------------------------------

/** JSON of a GET or POST; a refusal becomes a RequestError with the server's field. */
async function request(method, url, body, headers = {}) {
  const response = await fetch(url, body === undefined ? { method } : {
    method, headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body) });
  if (response.ok) return response;
  let error;
  try {
    error = await response.json();
  } catch {
    error = null;
  }
  throw new RequestError(error && typeof error.code === 'string' ? error
    : { code: 'http', message: `the server answered ${response.status}` }, response.status);
}

/** The ExperimentSpec's JSON Schema, with the page's extras under `x-torchplay`. */
export async function fetchSchema() {
  return (await request('GET', '/api/schema')).json();
}

/**
 * A sample of every dataset kind at its defaults, for the picker's thumbnails: the server's
 * own generators, so the thumbnails never drift from what trains.
 * @returns {Promise<{kind: string, task: string, one_d: boolean, classes: number,
 *   extent: number[], x: number[][], y: number[]}[]>}
 */
export async function fetchDatasets() {
  return (await request('GET', '/api/datasets')).json();
}

/** A spec of any version the server reads (a link's), migrated, validated and filled in. */
export async function migrateSpec(spec) {
  return (await (await request('POST', '/api/spec/migrate', spec)).json()).spec;
}

/**
 * A saved experiment, or null when no experiment has this id.
 * @returns {Promise<{id: string, created: string, name: string, note: string, spec: any,
 *   run: any, links: Record<string, string|null>}|null>}
 */
export async function fetchExperiment(id) {
  try {
    return await (await request('GET', `/api/experiments/${encodeURIComponent(id)}`)).json();
  } catch (err) {
    if (err instanceof RequestError && err.status === 404) return null;
    throw err;
  }
}

/**
 * The downloads of a saved experiment, as GET /api/experiments/<id> lists them under `links`
 * (metrics and weights only where a run was recorded).
 * @returns {Record<string, string|null>}
 */
export function experimentLinks(id, withRun) {
  const base = `/api/experiments/${encodeURIComponent(id)}`;
  return { page: `/e/${encodeURIComponent(id)}`, spec: `${base}/spec.json`,
    script: `${base}/script.py`, metrics: withRun ? `${base}/metrics.csv` : null,
    weights: withRun ? `${base}/weights.pt` : null };
}

/** Save a setup without a run (no run on the server to record); answers {id, url, token}.
 * @param {string|null} token the owner token of earlier saves, if any */
export async function saveSetup(spec, name, note, token = null) {
  return (await request('POST', '/api/experiments', { spec, name, note },
    token ? { Authorization: `Bearer ${token}` } : {})).json();
}

/** The standalone training script of an unsaved spec, as a file to download. */
export async function scriptFor(spec) {
  return (await request('POST', '/api/export/script', spec)).blob();
}

/**
 * A saved run as the page's live messages: `ready`'s summary and data, and one frame whose
 * history replaces what is held (docs/experiments.md, "The recorded run").
 */
export function decodeRecording(run) {
  need(run.summary && run.data && run.frame && run.history, 'recorded run without its parts');
  const frame = decodeFrame({ ...run.frame, history: { replace: true, ...run.history } });
  return { summary: run.summary, data: run.data, frame };
}

/** Every lesson (docs/lessons.md): id, number, title, text, watch, tool, spec, variants. */
export async function fetchLessons() {
  return (await request('GET', '/api/lessons')).json();
}

/** One lesson, or null when no lesson has this id. */
export async function fetchLesson(id) {
  try {
    return await (await request('GET', `/api/lessons/${encodeURIComponent(id)}`)).json();
  } catch (err) {
    if (err instanceof RequestError && err.status === 404) return null;
    throw err;
  }
}
