/**
 * Spec paths and merge patches on the page: which paths change live, the patch an edit
 * sends, and which spec path a server error names.
 */

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

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * JSON merge patch (RFC 7386), as the server's spec/model.py merge_patch: objects merge key
 * by key, null removes a key (the schema's default then takes its place), anything else
 * replaces. Neither argument is changed.
 */
export function mergePatch(base, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  const merged = isObject(base) ? structuredClone(base) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else merged[key] = mergePatch(merged[key], value);
  }
  return merged;
}

/**
 * The spec after a patch, as the server's spec/model.py `patched` makes it and validation
 * completes it: a patch naming another optimizer kind rebuilds the optimizer from that
 * kind's defaults plus the patch's own optimizer fields; removed fields take their defaults.
 * tests/patch_cases.json holds this and the server's code to the same cases.
 * @param {Record<string, any>} spec a complete spec
 * @param {Record<string, any>} patch
 * @param {import('./schema.js').Schema} schema
 */
export function applyPatch(spec, patch, schema) {
  const base = structuredClone(spec);
  const optimizer = patch.optimizer;
  if (isObject(optimizer) && 'kind' in optimizer && optimizer.kind !== spec.optimizer?.kind) {
    base.optimizer = {};
  }
  return schema.complete(mergePatch(base, patch));
}

/** The merge patch that turns one complete spec into another (the server's diff_patch): only
 * what differs; an object whose keys differ (another optimizer kind) goes whole. */
export function diffPatch(before, after) {
  /** @type {Record<string, any>} */
  const patch = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before?.[key];
    if (JSON.stringify(old) === JSON.stringify(value)) continue;
    const sameKeys = isObject(old) && isObject(value) &&
      JSON.stringify(Object.keys(old).sort()) === JSON.stringify(Object.keys(value).sort());
    patch[key] = sameKeys ? diffPatch(old, value) : value;
  }
  return patch;
}
