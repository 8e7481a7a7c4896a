/**
 * The REST routes the page calls (docs/experiments.md): each answers parsed JSON (or a
 * blob), and a refusal becomes a RequestError carrying the server's field.
 */

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

/** What the schema cannot say (GET /api/rules): losses per task, the ReLU family, ... */
export async function fetchRules() {
  return (await request('GET', '/api/rules')).json();
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

/** A saved sweep (GET /api/sweeps/<id>), or null when there is none. */
export async function fetchSweep(id) {
  try {
    return await (await request('GET', `/api/sweeps/${encodeURIComponent(id)}`)).json();
  } catch (err) {
    if (err instanceof RequestError && err.status === 404) return null;
    throw err;
  }
}

/** The spec fields a sweep may vary, for this spec, with their types and bounds
 * (POST /api/sweep-fields). */
export async function fetchSweepFields(spec) {
  return (await (await request('POST', '/api/sweep-fields', spec)).json()).fields;
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
