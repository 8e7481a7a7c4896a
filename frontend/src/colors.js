/**
 * Colours, chosen to survive colour-blindness: orange/blue for two classes and for signed
 * values (as TF Playground, distinct for every common type of colour vision), Okabe-Ito for
 * K classes and for chart lines (Okabe & Ito, "Color Universal Design", 2008).
 *
 * Scales are lookup tables of 256 RGB triples indexed by the server's bytes, so painting a
 * 100 x 100 grid is 10,000 table reads and no colour maths per frame. The painters of grids,
 * neuron maps and 1-D neuron curves live here too, shared by the diagram and the output.
 */

/** @typedef {[number, number, number]} RGB */

export const ORANGE = /** @type {RGB} */ ([245, 147, 34]);
export const BLUE = /** @type {RGB} */ ([8, 119, 189]);
const MID = /** @type {RGB} */ ([232, 234, 235]);

/** Okabe-Ito, ordered so that class 0 / class 1 match the two-class orange / blue. */
export const CATEGORICAL = [
  [230, 159, 0], [0, 114, 178], [0, 158, 115], [204, 121, 167], [213, 94, 0],
  [86, 180, 233], [240, 228, 66],
].map((c) => /** @type {RGB} */ (c));

export const css = (/** @type {RGB} */ c, alpha = 1) =>
  alpha === 1 ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;

/** Class colour as CSS; two-class sets use the orange/blue pair. */
export function classColor(k, classes) {
  return classes <= 2 ? css(k ? BLUE : ORANGE) : css(CATEGORICAL[k % CATEGORICAL.length]);
}

const mix = (a, b, t) => /** @type {RGB} */ (a.map((v, i) => Math.round(v + (b[i] - v) * t)));

/** 256-entry diverging table: byte 0 orange, 127.5 light grey, 255 blue. */
function diverging() {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const c = t < 0.5 ? mix(ORANGE, MID, t * 2) : mix(MID, BLUE, (t - 0.5) * 2);
    table.set(c, i * 3);
  }
  return table;
}

export const DIVERGING = diverging();

/** The same table quantised to `steps` flat bands (the "discretise" view). */
export function banded(steps) {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const band = Math.min(steps - 1, Math.floor((i / 256) * steps));
    const source = Math.round(((band + 0.5) / steps) * 255);
    table.set(DIVERGING.subarray(source * 3, source * 3 + 3), i * 3);
  }
  return table;
}

/** Colour of a diverging-scale value as CSS. */
export function divergingCss(byte, alpha = 1) {
  const i = Math.max(0, Math.min(255, Math.round(byte))) * 3;
  return css([DIVERGING[i], DIVERGING[i + 1], DIVERGING[i + 2]], alpha);
}

/**
 * Paint a grid of bytes into RGBA pixels.
 * kind: 'probability' | 'value' (diverging table), 'classes' (categorical, with confidence
 * bytes as lightness: uncertain regions fade to white).
 * @param {Uint8ClampedArray} pixels RGBA out
 * @param {Uint8Array} values
 * @param {{kind: string, confidence?: Uint8Array, classes?: number, discrete?: boolean}} how
 */
export function paintGrid(pixels, values, { kind, confidence, classes = 2, discrete = false }) {
  const n = values.length;
  if (kind === 'classes') {
    for (let i = 0; i < n; i++) {
      const c = CATEGORICAL[values[i] % CATEGORICAL.length];
      // Confidence runs from 1/K (chance) to 1; map that onto 25%..100% of the class colour.
      const floor = 1 / classes;
      const conf = discrete ? 1 : Math.max(0, (confidence[i] / 255 - floor) / (1 - floor));
      const t = 0.25 + 0.75 * conf;
      const o = i * 4;
      pixels[o] = 255 + (c[0] - 255) * t;
      pixels[o + 1] = 255 + (c[1] - 255) * t;
      pixels[o + 2] = 255 + (c[2] - 255) * t;
      pixels[o + 3] = 255;
    }
    return;
  }
  const table = discrete ? (kind === 'probability' ? BINARY : BANDS) : DIVERGING;
  for (let i = 0; i < n; i++) {
    const s = values[i] * 3;
    const o = i * 4;
    pixels[o] = table[s];
    pixels[o + 1] = table[s + 1];
    pixels[o + 2] = table[s + 2];
    pixels[o + 3] = 255;
  }
}

const BINARY = banded(2);
const BANDS = banded(10);

/** Line colours for per-layer charts: Okabe-Ito, then the same hues dashed. */
export function seriesStyle(i) {
  const base = [[0, 114, 178], [230, 159, 0], [0, 158, 115], [204, 121, 167], [213, 94, 0],
    [86, 180, 233], [120, 120, 120]];
  const round = Math.floor(i / base.length);
  return {
    stroke: css(/** @type {RGB} */ (base[i % base.length])),
    dash: round === 0 ? undefined : round === 1 ? [6, 3] : [2, 3],
  };
}

/** A neuron's heatmap: bytes through the diverging table (its own tiny ImageData). */
export function paintMap(ctx, values, width, height) {
  const image = ctx.createImageData(width, height);
  const px = image.data;
  for (let i = 0; i < values.length; i++) {
    const s = values[i] * 3;
    px[i * 4] = DIVERGING[s];
    px[i * 4 + 1] = DIVERGING[s + 1];
    px[i * 4 + 2] = DIVERGING[s + 2];
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/** A 1-D neuron: its output along x as a small curve, zero line in the middle. */
export function paintCurve(ctx, canvas, values) {
  const w = canvas.width;
  const hgt = canvas.height;
  ctx.fillStyle = '#f4f5f6';
  ctx.fillRect(0, 0, w, hgt);
  ctx.strokeStyle = '#c9ccd0';
  ctx.beginPath();
  ctx.moveTo(0, hgt / 2);
  ctx.lineTo(w, hgt / 2);
  ctx.stroke();
  ctx.strokeStyle = css(BLUE);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = (i / (values.length - 1)) * w;
    const y = hgt - (v / 255) * hgt;
    if (i) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
  });
  ctx.stroke();
}
