/** Number formatting shared by the panels: short, and stable in width where it updates live. */

/** A value in 3 significant digits, exponent form when tiny or huge; "–" for none. */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

/** A share as a percentage with one decimal. */
export function pct(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`;
}
