/**
 * The ExperimentSpec's JSON Schema (GET /api/schema), read so that the page never repeats a
 * bound, a default, an option list or a description the server already declares.
 *
 * Paths are dotted spec paths ("network.layers.0.units"). Discriminated unions (a layer's
 * `type`, the optimizer's `kind`) are resolved against the spec being edited, so the node for
 * "optimizer.momentum" is SGD's or RMSprop's depending on the current optimizer.
 */

/** @typedef {{[key: string]: any}} JsonSchema */
/**
 * @typedef {Object} Rules GET /api/rules (docs/experiments.md, "Rules")
 * @property {Record<string, string[]>} losses task -> the losses that fit it
 * @property {string[]} two_class_losses losses that need exactly 2 classes
 * @property {Record<string, number|null>} classes dataset kind -> classes (null: data.classes)
 * @property {string[]} relu_family activations whose dead units are counted
 * @property {string[]} slope_activations activations that read `slope`
 * @property {Record<string, string[]>} schedule_params schedule kind -> fields it reads
 * @property {Record<string, string>} noise dataset kind -> what `data.noise` does there
 */

export class Schema {
  /** @param {JsonSchema} root the schema as served
   * @param {Rules} [rules] GET /api/rules: what the schema cannot say */
  constructor(root, rules) {
    this.root = root;
    /** @type {Rules} */
    this.rules = rules || { losses: {}, two_class_losses: [], classes: {}, relu_family: [],
      slope_activations: [], schedule_params: {}, noise: {} };
    this.defs = root.$defs || {};
    const extras = root['x-torchplay'] || {};
    /** Spec paths an `update` may change during a run; anything else needs a new start. */
    /** @type {string[]} */
    this.liveFields = extras.live_fields || [];
    /** Dataset kind -> "classification" or "regression". */
    /** @type {Record<string, string>} */
    this.tasks = extras.tasks || {};
    /** Dataset kinds whose points have one coordinate (a curve to fit). */
    /** @type {string[]} */
    this.oneD = extras.one_d || [];
    /** The protocol's own limits (max_fps, max_steps_per_request, max_message_bytes). */
    /** @type {Record<string, number>} */
    this.limits = extras.limits || {};
  }

  /** Follow $ref (and a lone allOf/anyOf-with-null wrapper) to the node that has the facts. */
  deref(node) {
    let seen = 0;
    while (node && seen++ < 10) {
      if (node.$ref) node = { ...this.defs[node.$ref.split('/').pop()], ...omit(node, '$ref') };
      else if (node.anyOf && !node.type) {
        // "int | None" fields: take the non-null branch; its bounds are the field's bounds.
        const real = node.anyOf.find((n) => n.type !== 'null');
        node = { ...real, ...omit(node, 'anyOf'), nullable: true };
      } else break;
    }
    return node;
  }

  /** Pick the branch of a discriminated union that matches `value` (or the first one). */
  branch(node, value) {
    if (!node.oneOf) return node;
    const tag = node.discriminator?.propertyName;
    const map = node.discriminator?.mapping || {};
    const ref = tag && value && map[value[tag]];
    return this.deref(ref ? { $ref: ref } : node.oneOf[0]);
  }

  /** Schema node of a dotted spec path, resolved against `spec` for unions; null if none. */
  node(path, spec) {
    let node = this.deref(this.root);
    let value = spec;
    for (const part of path.split('.').filter(Boolean)) {
      node = this.branch(node, value);
      if (node.type === 'array' || node.items) node = this.deref(node.items);
      else node = this.deref(node.properties?.[part]);
      value = value?.[part];
      if (!node) return null;
    }
    return this.branch(node, value);
  }

  /** Defaults of a $def (e.g. "LinearLayer"), nested objects filled from their own defs. */
  defaults(defName) {
    return this.fill(this.deref({ $ref: `#/$defs/${defName}` }));
  }

  fill(node) {
    node = this.deref(node);
    if (!node) return undefined;
    if ('default' in node) return structuredClone(node.default);
    if (node.const !== undefined) return node.const;
    if (node.oneOf) return this.fill(this.branch(node, null));
    if (node.properties) {
      /** @type {Record<string, any>} */
      const out = {};
      for (const [key, sub] of Object.entries(node.properties)) {
        const value = this.fill(sub);
        if (value !== undefined) out[key] = value;
      }
      return out;
    }
    return undefined;
  }

  /**
   * `value` with every field it lacks filled with the schema's default, as the server's
   * validation fills them (an optimizer without a kind is the first branch, SGD, as there).
   * Fields the schema does not know are kept, for the server to name.
   */
  complete(value, node = this.root) {
    node = this.deref(node);
    if (!node) return value;
    if (node.oneOf) node = this.branch(node, value);
    if (value === undefined) return this.fill(node);
    if (node.properties && value && typeof value === 'object' && !Array.isArray(value)) {
      /** @type {Record<string, any>} */
      const out = {};
      for (const [key, sub] of Object.entries(node.properties)) {
        const filled = this.complete(value[key], sub);
        if (filled !== undefined) out[key] = filled;
      }
      for (const key of Object.keys(value)) if (!(key in out)) out[key] = value[key];
      return out;
    }
    if (Array.isArray(value) && node.items) return value.map((v) => this.complete(v, node.items));
    return value;
  }

  /** The $def name a union branch maps a tag to ("adamw" -> "AdamSpec"). */
  defFor(unionPath, tag, spec) {
    const parent = this.deref(this.nodeRaw(unionPath, spec));
    const ref = parent?.discriminator?.mapping?.[tag];
    return ref ? ref.split('/').pop() : null;
  }

  /** Like node(), but without resolving the final union (to read its discriminator). */
  nodeRaw(path, spec) {
    const parts = path.split('.');
    const last = parts.pop();
    const parent = parts.length ? this.node(parts.join('.'), spec) : this.deref(this.root);
    if (!parent) return null;
    const resolved = this.branch(parent, parts.reduce((v, p) => v?.[p], spec));
    if (resolved.items && /^\d+$/.test(last)) return this.deref(resolved.items);
    return resolved.properties?.[last] ?? (resolved.items ? resolved.items : null);
  }

  /** Allowed values of an enum field (a const field gives its one value). */
  options(path, spec) {
    const node = this.node(path, spec);
    if (!node) return [];
    if (node.enum) return node.enum;
    if (node.items?.enum) return node.items.enum;
    if (node.const !== undefined) return [node.const];
    return [];
  }

  /** Tooltip text: the field's description. */
  describe(path, spec) {
    return this.node(path, spec)?.description || '';
  }

  /**
   * Why `value` is not acceptable at `path`, in the server's words, or null when it is.
   * Checks type and bounds only; cross-field rules stay with the server.
   */
  check(path, value, spec) {
    const node = this.node(path, spec);
    if (!node) return null;
    if (value === null || value === undefined) {
      return node.nullable ? null : 'A value is required';
    }
    if (node.type === 'integer' || node.type === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'Input should be a number';
      if (node.type === 'integer' && !Number.isInteger(value)) {
        return 'Input should be a whole number';
      }
      if (node.minimum !== undefined && value < node.minimum) {
        return `Input should be greater than or equal to ${node.minimum}`;
      }
      if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) {
        return `Input should be greater than ${node.exclusiveMinimum}`;
      }
      if (node.maximum !== undefined && value > node.maximum) {
        return `Input should be less than or equal to ${node.maximum}`;
      }
      if (node.exclusiveMaximum !== undefined && value >= node.exclusiveMaximum) {
        return `Input should be less than ${node.exclusiveMaximum}`;
      }
    }
    if (node.enum && !node.enum.includes(value)) {
      return `Input should be one of ${node.enum.join(', ')}`;
    }
    if (node.type === 'array' && Array.isArray(value)) {
      if (node.minItems !== undefined && value.length < node.minItems) {
        return `Choose at least ${node.minItems}`;
      }
      if (node.maxItems !== undefined && value.length > node.maxItems) {
        return `At most ${node.maxItems} allowed`;
      }
    }
    return null;
  }
}

function omit(obj, key) {
  const { [key]: _drop, ...rest } = obj;
  return rest;
}

/** Read a dotted path from an object. */
export function getPath(obj, path) {
  return path.split('.').reduce((value, part) => value?.[part], obj);
}

/** Write a dotted path into an object, creating objects on the way. */
export function setPath(obj, path, value) {
  const parts = path.split('.');
  const last = parts.pop();
  let target = obj;
  for (const part of parts) {
    if (target[part] === undefined || target[part] === null) target[part] = {};
    target = target[part];
  }
  target[last] = value;
}
