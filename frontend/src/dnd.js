/**
 * Drag and drop with pointer events (not HTML5 draggable): the same code path for mouse, pen
 * and touch, and real pointer input from a test drives it exactly as a person does.
 *
 * A press that moves less than a few pixels stays a click; past that the element's ghost
 * follows the pointer, `over` reports where it is, and release calls `drop` (or `cancel`
 * after Escape). The click that follows a drag is swallowed so a drag never also "clicks".
 */

const THRESHOLD = 5; // px of movement that turns a press into a drag

/**
 * @typedef {Object} DragHandlers
 * @property {() => any} payload what is being dragged (null: this press cannot drag)
 * @property {(x: number, y: number, payload: any) => string|void} over
 *   pointer moved; may return a ghost state class ('remove', 'insert')
 * @property {(x: number, y: number, payload: any) => void} drop
 * @property {() => void} end always called last (hide markers)
 */

/** Make `el` draggable. Returns a function that removes the behaviour. */
export function draggable(/** @type {HTMLElement} */ el, /** @type {DragHandlers} */ handlers) {
  /** @type {{x: number, y: number, id: number, payload: any, ghost: HTMLElement|null,
   *          dx: number, dy: number}|null} */
  let press = null;

  const onMove = (/** @type {PointerEvent} */ e) => {
    if (!press || e.pointerId !== press.id) return;
    if (!press.ghost) {
      if (Math.hypot(e.clientX - press.x, e.clientY - press.y) < THRESHOLD) return;
      press.ghost = makeGhost(el);
      const rect = el.getBoundingClientRect();
      press.dx = press.x - rect.left;
      press.dy = press.y - rect.top;
      document.body.classList.add('dragging');
      el.classList.add('drag-source');
    }
    e.preventDefault();
    press.ghost.style.transform =
      `translate(${e.clientX - press.dx}px, ${e.clientY - press.dy}px)`;
    const state = handlers.over(e.clientX, e.clientY, press.payload) || '';
    press.ghost.dataset.state = state;
  };

  const finish = (/** @type {PointerEvent|null} */ e, dropped) => {
    if (!press) return;
    const dragged = Boolean(press.ghost);
    const { payload } = press;
    press.ghost?.remove();
    press = null;
    window.removeEventListener('pointermove', onMove);
    window.removeEventListener('pointerup', onUp);
    window.removeEventListener('pointercancel', onCancel);
    window.removeEventListener('keydown', onKey, true);
    document.body.classList.remove('dragging');
    el.classList.remove('drag-source');
    if (dragged) {
      swallowNextClick();
      if (dropped && e) handlers.drop(e.clientX, e.clientY, payload);
      handlers.end();
    }
  };
  const onUp = (/** @type {PointerEvent} */ e) => {
    if (press && e.pointerId === press.id) finish(e, true);
  };
  const onCancel = () => finish(null, false);
  const onKey = (/** @type {KeyboardEvent} */ e) => {
    if (e.key === 'Escape' && press) {
      e.preventDefault();
      e.stopPropagation();
      finish(null, false);
    }
  };

  const onDown = (/** @type {PointerEvent} */ e) => {
    if (e.button !== 0 || press) return;
    const payload = handlers.payload();
    if (payload === null) return;
    press = { x: e.clientX, y: e.clientY, id: e.pointerId, payload, ghost: null, dx: 0, dy: 0 };
    window.addEventListener('pointermove', onMove);
    window.addEventListener('pointerup', onUp);
    window.addEventListener('pointercancel', onCancel);
    window.addEventListener('keydown', onKey, true);
  };
  el.addEventListener('pointerdown', onDown);
  return () => {
    finish(null, false);
    el.removeEventListener('pointerdown', onDown);
  };
}

function makeGhost(/** @type {HTMLElement} */ el) {
  const ghost = /** @type {HTMLElement} */ (el.cloneNode(true));
  ghost.removeAttribute('id');
  ghost.classList.add('drag-ghost');
  ghost.setAttribute('aria-hidden', 'true');
  const rect = el.getBoundingClientRect();
  ghost.style.width = `${rect.width}px`;
  ghost.style.height = `${rect.height}px`;
  document.body.append(ghost);
  return ghost;
}

function swallowNextClick() {
  const swallow = (/** @type {Event} */ e) => {
    e.stopPropagation();
    e.preventDefault();
  };
  window.addEventListener('click', swallow, { capture: true, once: true });
  // If no click follows (release outside the element), stop waiting for one.
  setTimeout(() => window.removeEventListener('click', swallow, { capture: true }), 0);
}
