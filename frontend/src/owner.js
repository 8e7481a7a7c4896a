/**
 * This browser's owner token and what it owns (docs/experiments.md, "Owners, quotas and
 * retention"). The first save gets a token from the server, shown once; it is kept in
 * localStorage and sent with every later save, so one token owns all of this browser's saves.
 * With it the page renames, annotates and deletes them (PATCH/DELETE, `Authorization: Bearer`).
 * Which ids it owns is kept beside it, only to know where to offer those controls: the server
 * decides.
 */

import { RequestError } from './rest.js';

const TOKEN_KEY = 'torchplay.owner';
const OWNED_KEY = 'torchplay.owned';

/** localStorage, or null where the browser refuses it (then nothing is remembered). */
function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The owner token of earlier saves, or null (a first save gets one). */
export function ownerToken() {
  return storage()?.getItem(TOKEN_KEY) ?? null;
}

/** @returns {string[]} */
function ownedIds() {
  try {
    const ids = JSON.parse(storage()?.getItem(OWNED_KEY) ?? '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** Keep what a save answered: its new token (if any) and that this browser owns the id.
 * @param {{id: string, token?: string|null}} answer */
export function remember(answer) {
  const store = storage();
  if (!store) return;
  if (answer.token) store.setItem(TOKEN_KEY, answer.token);
  store.setItem(OWNED_KEY, JSON.stringify([...new Set([...ownedIds(), answer.id])]));
}

/** Drop a token the server no longer knows (`unknown_token`): the next save gets a new one. */
export function forgetToken() {
  storage()?.removeItem(TOKEN_KEY);
}

/** Whether this browser saved the experiment and still holds the token. */
export function owns(id) {
  return ownerToken() !== null && ownedIds().includes(id);
}

async function ownerRequest(method, id, body, kind = 'experiments') {
  const response = await fetch(`/api/${kind}/${encodeURIComponent(id)}`, {
    method,
    headers: { Authorization: `Bearer ${ownerToken() ?? ''}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.ok) return response;
  let error = null;
  try {
    error = await response.json();
  } catch { /* not JSON: described below */ }
  throw new RequestError(error && typeof error.code === 'string' ? error
    : { code: 'http', message: `the server answered ${response.status}` }, response.status);
}

/** Rename and annotate an experiment this browser owns; answers {id, name, note}. */
export async function editExperiment(id, name, note) {
  return (await ownerRequest('PATCH', id, { name, note })).json();
}

/** Delete an experiment this browser owns; its link answers 404 from then on. */
export async function deleteExperiment(id) {
  await ownerRequest('DELETE', id);
  storage()?.setItem(OWNED_KEY, JSON.stringify(ownedIds().filter((owned) => owned !== id)));
}

/** Delete a saved sweep this browser owns; its link answers 404 from then on. */
export async function deleteSweep(id) {
  await ownerRequest('DELETE', id, undefined, 'sweeps');
  storage()?.setItem(OWNED_KEY, JSON.stringify(ownedIds().filter((owned) => owned !== id)));
}
