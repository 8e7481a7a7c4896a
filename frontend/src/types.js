/**
 * The shapes the page's modules share: the app's state, what panels are given, and how the
 * page opens. Types only (JSDoc); nothing here runs.
 */

/** @typedef {import('./history.js').History} History */
/** @typedef {import('./history.js').LayerTrace} LayerTrace */
/** @typedef {import('./schema.js').Schema} Schema */
/** @typedef {import('./fields.js').ErrorBoard} ErrorBoard */

/**
 * @typedef {Object} AppState
 * @property {Record<string, any>|null} spec the experiment being edited (full, defaults filled)
 * @property {{spec: any, summary: any, data: any, session: number|null,
 *             recorded?: boolean}|null} run the server's run, or a saved one (`recorded`)
 * @property {any} frame the latest frame
 * @property {History} history
 * @property {LayerTrace} trace
 * @property {{connected: boolean, running: boolean, diverged: string|null, note: string|null,
 *             pending: boolean, error: string|null, finished: boolean,
 *             lost?: boolean}} status the run's state; `finished`: it stopped at its epoch limit; `lost`: the
 *             connection went away with a live run
 * @property {import('./view.js').View} view how the run is shown (the link carries it)
 * @property {{column: number, unit: number}|null} hover neuron under the pointer
 * @property {Recorded|null} recorded the saved experiment this page shows (/e/<id>)
 * @property {any} savedSweep the saved sweep this page shows (/s/<id>), or null
 * @property {any} lesson the open lesson (GET /api/lessons/<id>), or null
 * @property {Run[]} runs the runs trained side by side (one for a single run)
 * @property {number} selected which of `runs` the panels show (run, frame, history, trace)
 * @property {Pin[]} pins reference runs the charts overlay (at most 4)
 */

/**
 * One run of those trained side by side: its own spec, curves and latest frame.
 * @typedef {Object} Run
 * @property {string} label
 * @property {{spec: any, summary: any, data: any, session: number|null, variant: number,
 *             recorded?: boolean}} run
 * @property {any} frame
 * @property {History} history
 * @property {LayerTrace} trace
 */

/**
 * A run pinned as a reference: its curves as they were when pinned.
 * @typedef {Object} Pin
 * @property {string} id
 * @property {string} label
 * @property {any} run
 * @property {any} frame its last frame when pinned
 * @property {History} history
 * @property {LayerTrace} trace
 */

/**
 * A saved experiment as the page shows it. Name and note are the user's text: panels put
 * them in textContent, never in HTML.
 * @typedef {Object} Recorded
 * @property {string} id
 * @property {string} name
 * @property {string} note
 * @property {string} created ISO 8601
 * @property {{step: number, epoch: number, changes: {label: string|null,
 *   changedAt: number|null, weightEdits: number}[]}|null} run null: a setup saved without a
 *   run; `changes`: each of its runs (a group's in order) with its live changes and edits
 * @property {Record<string, string|null>} links the REST downloads
 * @property {boolean} replaying a live run has replaced the recording ("Run again")
 * @property {{message: string, field: string}|null} problem why the server refused to run it
 */

/**
 * How the page opens (main.js works it out from the URL).
 * @typedef {Object} Boot
 * @property {Record<string, any>} spec full spec, every default filled in
 * @property {Record<string, any>} defaults the server's default spec (for compact links)
 * @property {{field: string, message: string}[]} [errors] link values the server refused
 * @property {string|null} [note] shown in the status line
 * @property {any} [experiment] a saved experiment (GET /api/experiments/<id>)
 * @property {any} [sweep] a saved sweep (GET /api/sweeps/<id>), shown in the sweep panel
 * @property {any} [lesson] a lesson (GET /api/lessons/<id>)
 * @property {import('./view.js').View} [view] the link's view settings
 * @property {{label: string, patch: any}[]} [variants] runs side by side a link holds
 */

/**
 * What panels get: the state, and the verbs that change it.
 * @typedef {Object} Store
 * @property {AppState} state
 * @property {Schema} schema
 * @property {ErrorBoard} errors
 * @property {(path: string, value: any) => boolean} edit
 * @property {(edits: [string, any][]) => boolean} editMany
 * @property {(name: string, ...args: any[]) => void} control
 * @property {(key: string, value: any) => void} setView
 * @property {(hover: AppState['hover']) => void} setHover
 * @property {(message: string) => void} announce
 * @property {(name: string, note: string, only?: number|null) =>
 *   Promise<{id: string, url: string}>} share save; `only`: of runs side by side, just that
 * @property {(device?: string) => void} runAgain start the recorded experiment again
 * @property {() => void} fork leave the recording for an editable copy of its spec
 * @property {(spec: any, note: string) => void} load open a complete spec as a new setup
 * @property {(k: number) => void} select show run k of those trained side by side
 * @property {() => boolean} pin keep the run on show as a reference (false: none to pin)
 * @property {(id: string) => void} unpin
 * @property {() => void} closeLesson
 * @property {(variant: number, layer: number, row: number, col: number, value: number)
 *   => boolean} setWeight set one weight of live run `variant` (docs/protocol.md, set_weight)
 * @property {(variant: number, points: number) => Promise<any>} checkGradients the
 *   `gradient_check` answer (docs/protocol.md)
 */

/** @typedef {{update: (state: AppState, changes: Set<string>) => void, destroy: () => void}} Panel */

export {};
