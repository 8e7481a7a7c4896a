/**
 * The REST routes of uploaded tables (docs/experiments.md, "Your own data"): upload a file,
 * describe a stored one. Refusals become rest.js's RequestError, whose message names the
 * line and column of a bad file.
 */

import { RequestError } from './rest.js';

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok) return body;
  throw new RequestError(body && typeof body.code === 'string' ? body
    : { code: 'http', message: `the server answered ${response.status}` }, response.status);
}

/** Upload a CSV/TSV file; resolves to the server's description (hash, rows, columns).
 * @param {File} file */
export async function uploadTable(file) {
  return answer(await fetch(`/api/tables?name=${encodeURIComponent(file.name)}`, {
    method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: file }));
}

/** The description of a stored table; a RequestError with status 404 when this server
 * lacks it. @param {string} hash */
export async function describeTable(hash) {
  return answer(await fetch(`/api/tables/${encodeURIComponent(hash)}`));
}
