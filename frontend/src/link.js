/**
 * The setup link: the whole ExperimentSpec in the page's URL hash. Compact (only the fields
 * that differ from the server's defaults), versioned (`v` is the spec's `version`) and
 * readable: one `path=value` per changed field, the paths of docs/spec.md.
 *
 *   #v=1&data.kind=xor&data.noise=0.2&features.inputs=[x1,x2,x1_x2]
 *   &network.layers.0.type=linear&network.layers.0.units=8&optimizer.kind=adam
 *
 * Reading a link needs no schema: numbers, true, false, null and [lists] read as such, and
 * anything else is a string. So the page hands a link's spec to the server unchanged, and the
 * server, which migrates older spec versions, judges it: links outlive the page that wrote
 * them. The first page's links (`#spec=<JSON>`) still open.
 */

/** @typedef {import('./schema.js').Schema} Schema */

/** A link that cannot be read at all (as opposed to one the server refuses a value of). */
export class LinkError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'LinkError';
  }
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
/** Path segments that would reach Object.prototype from a crafted link. */
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v) => v === null || typeof v !== 'object';
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// --- writing ---------------------------------------------------------------------------

/** A string as it goes in the link: quoted when it would read as something else. */
function scalarText(value) {
  if (typeof value !== 'string') return String(value); // numbers, booleans, null: as JSON
  const literal = value === '' || value === 'null' || value === 'true' || value === 'false' ||
    NUMBER.test(value) || value.startsWith('[') || value.startsWith('"') || value === '{}';
  return encodeURIComponent(literal ? JSON.stringify(value) : value);
}

function valueText(value) {
  return Array.isArray(value) ? `[${value.map(scalarText).join(',')}]` : scalarText(value);
}

/** The discriminator property ("type", "kind") when `path` holds a tagged union, else null. */
function tagAt(schema, path, spec) {
  const raw = schema.nodeRaw(path, spec);
  return (raw && schema.deref(raw)?.discriminator?.propertyName) || null;
}

/** Defaults of the union branch `value` takes at `path` ("adam" -> AdamSpec's defaults). */
function branchDefaults(schema, path, spec) {
  const node = schema.node(path, spec);
  return node ? schema.fill(node) : undefined;
}

/**
 * Push [path, value] for every leaf of `value` that differs from `base`. Lists of objects
 * are written item by item, each with its tag (a layer's `type`), and compared with the
 * defaults of that item's kind; a union whose tag changed is compared with its new kind's.
 */
function leaves(value, base, path, out, schema, spec) {
  if (same(value, base)) return;
  if (Array.isArray(value)) {
    if (value.every(isScalar)) { out.push([path, value]); return; }
    value.forEach((item, i) => {
      const at = `${path}.${i}`;
      const tag = tagAt(schema, at, spec);
      const itemBase = branchDefaults(schema, at, spec);
      if (tag) out.push([`${at}.${tag}`, item[tag]]); // always: it says what the item is
      for (const key of Object.keys(item)) {
        if (key !== tag) leaves(item[key], itemBase?.[key], `${at}.${key}`, out, schema, spec);
      }
    });
    return;
  }
  if (isObject(value)) {
    let own = base;
    const tag = path ? tagAt(schema, path, spec) : null;
    if (tag && base?.[tag] !== value[tag]) {
      out.push([`${path}.${tag}`, value[tag]]);
      own = branchDefaults(schema, path, spec);
    }
    for (const key of Object.keys(value)) {
      if (key === tag || (!path && key === 'version')) continue;
      leaves(value[key], own?.[key], path ? `${path}.${key}` : key, out, schema, spec);
    }
    return;
  }
  out.push([path, value]);
}

/**
 * The link's hash for a full spec: `#v=<version>` and the fields that differ from
 * `defaults` (the server's default spec).
 * @param {Record<string, any>} spec @param {Record<string, any>} defaults @param {Schema} schema
 */
export function linkHash(spec, defaults, schema) {
  /** @type {[string, any][]} */
  const out = [];
  leaves(spec, defaults, '', out, schema, spec);
  return `#v=${spec.version ?? defaults.version}${out.map(([path, value]) =>
    `&${path}=${valueText(value)}`).join('')}`;
}

/** The longest setup link the page writes with runs side by side in it (characters of the
 * hash): links this long still pass through mail, chat and every browser. */
export const MAX_RUNS_LINK = 4000;

/**
 * Hash parameters for runs side by side: `&runs.<k>.label=<label>` and one
 * `&runs.<k>.patch.<path>=<value>` per leaf of its patch (lists of objects item by item).
 * @param {{label: string, patch: Record<string, any>}[]} variants
 */
export function runsParams(variants) {
  /** @type {string[]} */
  const out = [];
  const walk = (value, path) => {
    if (Array.isArray(value) && !value.every(isScalar)) {
      value.forEach((item, i) => walk(item, `${path}.${i}`));
    } else if (isObject(value)) {
      const keys = Object.keys(value);
      if (!keys.length) out.push(`&${path}={}`);
      for (const key of keys) walk(value[key], `${path}.${key}`);
    } else out.push(`&${path}=${valueText(value)}`);
  };
  variants.forEach(({ label, patch }, k) => {
    out.push(`&runs.${k}.label=${scalarText(label)}`);
    for (const key of Object.keys(patch)) walk(patch[key], `runs.${k}.patch.${key}`);
  });
  return out.join('');
}

// --- reading ---------------------------------------------------------------------------

/** decodeURIComponent, failing as a LinkError on a malformed escape ("%E0%A4%A"). */
function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new LinkError(`"${text}" is not readable`);
  }
}

function readScalar(text) {
  const s = decode(text);
  if (s === 'null') return null;
  if (s === '{}') return {};
  if (s === 'true' || s === 'false') return s === 'true';
  if (NUMBER.test(s)) return Number(s);
  if (s.startsWith('"')) {
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  }
  return s;
}

function readValue(text) {
  // A browser may have percent-encoded the brackets in the address bar.
  const raw = text.replace(/^%5B/i, '[').replace(/%5D$/i, ']');
  if (raw.startsWith('[') && raw.endsWith(']')) {
    const inner = raw.slice(1, -1);
    return inner === '' ? [] : inner.split(',').map(readScalar);
  }
  return readScalar(raw);
}

/** Set a dotted path, numeric parts making lists. Indices must come in order (0, 1, ...),
 * so a crafted link cannot make a list of a billion holes. */
function put(spec, path, value) {
  const parts = path.split('.');
  let target = spec;
  parts.forEach((part, i) => {
    if (!part || FORBIDDEN.has(part)) throw new LinkError(`${path}: not a spec path`);
    const key = Array.isArray(target) ? Number(part) : part;
    if (Array.isArray(target) && !(Number.isInteger(key) && key <= target.length)) {
      throw new LinkError(`${path}: list items must be numbered 0, 1, 2, …`);
    }
    if (i === parts.length - 1) {
      target[key] = value;
    } else {
      if (!isObject(target[key]) && !Array.isArray(target[key])) {
        target[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      }
      target = target[key];
    }
  });
}

/**
 * The spec a hash carries, as written (only what differs from the defaults; the server fills
 * in and migrates the rest); null when the hash carries none. Throws LinkError when unreadable.
 * @param {string} hash location.hash
 * @returns {Record<string, any>|null}
 */
export function readLink(hash) {
  const text = hash.replace(/^#/, '');
  if (!text) return null;
  if (text.startsWith('spec=')) { // the first page's links: the whole spec as JSON
    try {
      const spec = JSON.parse(decodeURIComponent(text.slice(5)));
      if (isObject(spec)) return spec;
    } catch {
      // fall through
    }
    throw new LinkError('the link\'s spec is not readable JSON');
  }
  /** @type {Record<string, any>} */
  const spec = {};
  for (const part of text.split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new LinkError(`"${decode(part)}" is not a field=value pair`);
    const path = decode(part.slice(0, eq));
    put(spec, path === 'v' ? 'version' : path, readValue(part.slice(eq + 1)));
  }
  return spec;
}

/** Remove a dotted path from a spec as written (a field the server refused). */
export function dropPath(spec, path) {
  const parts = path.split('.');
  const last = parts.pop();
  const parent = parts.reduce((v, p) => v?.[p], spec);
  if (Array.isArray(parent) && /^\d+$/.test(/** @type {string} */ (last))) {
    if (Number(last) >= parent.length) return false;
    parent.splice(Number(last), 1);
    return true;
  }
  if (!isObject(parent) || !(/** @type {string} */ (last) in parent)) return false;
  delete parent[/** @type {string} */ (last)];
  return true;
}
