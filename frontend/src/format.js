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

/** Significant digits a number field shows while it is not being edited. */
export const FIELD_DIGITS = 4;

/**
 * A number field's text while it is not being edited: whole numbers as they are, others to
 * FIELD_DIGITS significant digits ("0.03531" for 0.0353058512, "9.612e-6" for 0.00000961173);
 * '' for none. The setting itself is never rounded by showing it: see fields.js.
 */
export function fieldText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'number' || !Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const short = Number(v.toPrecision(FIELD_DIGITS));
  // "9.612e-6", not "0.000009612": as short as the digits it holds
  return Math.abs(short) < 1e-4 ? short.toExponential() : String(short);
}
