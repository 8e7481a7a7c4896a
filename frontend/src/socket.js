/**
 * The one module of the page that knows the WebSocket's wire format (docs/protocol.md): it
 * connects (and reconnects), sends typed controls, checks and decodes every incoming message
 * (base64 grids become Uint8Arrays), and turns a saved experiment's recorded run into the
 * `ready` and `frame` the live page already draws. REST calls are in rest.js; the curves
 * frames carry are kept by history.js.
 */

import { EVAL_COLUMNS, STEP_COLUMNS } from './history.js';
import { RequestError } from './rest.js';

/** The page's socket address: /ws on the server that served the page. */
export function socketUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export class ProtocolError extends Error {}

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

/** A frame's image views (docs/protocol.md, "Image views"): bytes decoded in place. */
function decodeImages(images) {
  const classes = images.class_names.length;
  need(images.confusion.length === classes, 'confusion matrix of the wrong size');
  const { tiles, grid } = images;
  if (tiles) {
    tiles.values = decodeBase64(tiles.values);
    need(tiles.values.length === tiles.shown * tiles.height * tiles.width,
      'weight tiles of the wrong size');
  }
  grid.pixels = decodeBase64(grid.pixels);
  need(grid.pixels.length === grid.index.length * grid.height * grid.width,
    'image grid of the wrong size');
}

/** The history delta's columns (docs/protocol.md): every column of a part equally long. */
function checkHistory(delta) {
  /** @type {[string, string[]][]} */
  const parts = [['steps', STEP_COLUMNS], ['evals', EVAL_COLUMNS]];
  for (const [part, columns] of parts) {
    const incoming = delta[part];
    const n = incoming[columns[0]]?.length;
    for (const column of columns) {
      need(Array.isArray(incoming[column]) && incoming[column].length === n,
        `ragged history.${part}`);
    }
  }
}

/** Check a frame's shape and turn its base64 grids into bytes (in place). */
function decodeFrame(m) {
  need(Number.isInteger(m.step) && Number.isInteger(m.epoch), 'frame without step/epoch');
  need(typeof m.running === 'boolean', 'frame without running');
  need(m.layers && Array.isArray(m.layers.name), 'frame without layers');
  for (const column of Object.values(m.layers)) {
    need(Array.isArray(column) && column.length === m.layers.name.length, 'ragged layers');
  }
  const out = m.output;
  // null: image sets (784 inputs) have no plane to draw; their views are `images`
  need(out === null || (out && OUTPUT_KINDS.includes(out.kind)),
    'frame with an unknown output kind');
  if (out === null) {
    // nothing to decode
  } else if (out.kind === 'curve') {
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
  if (m.images) decodeImages(m.images);
  for (const link of m.links || []) {
    need(link.values.length === link.shape[0] * link.shape[1], 'links of the wrong size');
  }
  need(m.history && m.history.steps && m.history.evals, 'frame without history');
  checkHistory(m.history);
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

/**
 * A saved run as the page's live messages: `ready`'s summary and data, and one frame whose
 * history replaces what is held (docs/experiments.md, "The recorded run").
 */
export function decodeRecording(run) {
  need(run.summary && run.data && run.frame && run.history, 'recorded run without its parts');
  const frame = decodeFrame({ ...run.frame, history: { replace: true, ...run.history } });
  return { summary: run.summary, data: run.data, frame };
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
   * Store the run (runs side by side: all, or `only` one) as it stands: resolves with the
   * `saved` message once the server has it on disk, rejects with a RequestError (`field`
   * "name"/"note"/"only" when one of those was refused).
   * @param {string} name @param {string} note @param {number|null} [only]
   * @param {string|null} [token] the owner token of earlier saves (docs/experiments.md)
   * @returns {Promise<{id: string, url: string, token: string|null, step: number,
   *   epoch: number}>}
   */
  save(name, note, only = null, token = null) {
    if (this.saving) {
      return Promise.reject(new RequestError({ code: 'busy', message: 'a save is under way' }));
    }
    return new Promise((resolve, reject) => {
      if (!this.send({ type: 'save', name, note, token,
        ...(only === null ? {} : { only }) })) {
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
      ['name', 'note', 'only'].includes(m.field))) pending.reject(new RequestError(m));
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
  /** Set one weight of run `variant` (0 alone; docs/protocol.md, set_weight); its next frame
   * shows it. */
  setWeight(variant, layer, row, col, value) {
    return this.send({ type: 'set_weight', variant, layer, row, col, value });
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
