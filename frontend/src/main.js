/**
 * The page's entry: which page the URL asks for, and the spec it opens with.
 *
 * - `/e/<id>`: a saved experiment, shown as recorded (or "no such experiment").
 * - `/s/<id>`: a saved sweep: its base spec in the playground, its results in the sweep panel
 *   at once (or "no such sweep").
 * - `/#v=1&...`: a setup link (link.js). Its spec goes to the server as written; the server
 *   migrates older versions, validates and fills in defaults. A value it refuses is dropped
 *   (the default takes its place) and the refusal is shown at the field, so one bad value
 *   does not lose the rest of the link.
 * - `/#lesson=<id>`: a lesson (docs/lessons.md) with its spec and the runs it compares.
 * - `/`: the server's default experiment.
 *
 * Any of these may carry view settings in the hash (`view.test=true`, view.js); a setup link
 * may hold runs side by side (`runs.1.label=...&runs.1.patch.optimizer.lr=0.3`, link.js),
 * which the server validates when they start.
 */

import { App } from './app.js';
import { LinkError, dropPath, readLink } from './link.js';
import { readView } from './view.js';
import {
  RequestError, fetchExperiment, fetchLesson, fetchRules, fetchSchema, fetchSweep,
  migrateSpec,
} from './rest.js';
import { Schema } from './schema.js';
import { showMissing } from './panels/recorded.js';

/** Rounds of "drop the refused fields, ask again" before a link falls back to defaults. */
const MAX_ROUNDS = 8;

/**
 * The full spec a link's spec stands for, and the values the server refused on the way.
 * @param {Record<string, any>} written @param {Record<string, any>} defaults
 */
async function restore(written, defaults) {
  /** @type {{field: string, message: string}[]} */
  const errors = [];
  let spec = written;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    try {
      return { spec: await migrateSpec(spec), errors };
    } catch (err) {
      if (!(err instanceof RequestError) || err.status !== 422) throw err;
      spec = structuredClone(spec);
      let dropped = false;
      for (const problem of err.errors) {
        const field = problem.field && problem.field !== 'body' ? problem.field : '';
        errors.push({ field, message: problem.message });
        // A version the server cannot read says nothing trustworthy about the rest.
        if (field && field !== 'version') dropped = dropPath(spec, field) || dropped;
      }
      if (!dropped) break;
    }
  }
  return { spec: defaults, errors };
}

async function main() {
  const [root, rules, defaults] = await Promise.all([fetchSchema(), fetchRules(),
    migrateSpec({})]);
  const schema = new Schema(root, rules);
  const id = location.pathname.match(/^\/e\/([^/]+)\/?$/)?.[1];
  const sweepId = location.pathname.match(/^\/s\/([^/]+)\/?$/)?.[1];
  let app;
  const lessonLink = location.hash.match(/^#lesson=([a-z0-9-]+)(&.*)?$/);
  const lessonId = lessonLink?.[1];
  /** The link's view settings; the spec part (if any) is read below. */
  const viewOf = (hash) => {
    try {
      return readView(readLink(hash)?.view);
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      return readView(undefined);
    }
  };
  if (lessonId) {
    const lesson = await fetchLesson(lessonId);
    const { view, errors } = viewOf(`#${lessonLink?.[2]?.slice(1) ?? ''}`);
    app = new App(schema, lesson ? { spec: lesson.spec, defaults, lesson, view, errors }
      : { spec: defaults, defaults, view, note: `There is no lesson "${lessonId}"; showing ` +
        'the default experiment. Open Lessons to pick one.' });
  } else if (sweepId) {
    const sweep = await fetchSweep(decodeURIComponent(sweepId));
    if (!sweep) {
      showMissing(decodeURIComponent(sweepId), 'sweep');
      return;
    }
    const { spec } = await restore(sweep.sweep.base, defaults);
    app = new App(schema, { spec, defaults, sweep, view: viewOf(location.hash).view,
      errors: [] });
  } else if (id) {
    const experiment = await fetchExperiment(decodeURIComponent(id));
    if (!experiment) {
      showMissing(decodeURIComponent(id));
      return;
    }
    const { view, errors } = viewOf(location.hash);
    // A group's other runs were stored as saved: bring their specs to the current version.
    for (const variant of experiment.run?.variants || []) {
      variant.spec = await migrateSpec(variant.spec);
    }
    app = new App(schema, { spec: experiment.spec, defaults, experiment, view, errors });
  } else {
    /** @type {import('./types.js').Boot} */
    let boot = { spec: defaults, defaults, errors: [], note: null };
    try {
      const written = readLink(location.hash);
      if (written) {
        const { view, errors: viewErrors } = readView(written.view);
        const variants = Array.isArray(written.runs) ? written.runs.map((run, k) => ({
          label: String(run?.label ?? `run ${k + 1}`), patch: run?.patch ?? {} })) : null;
        delete written.view;
        delete written.runs;
        const { spec, errors } = await restore(written, defaults);
        boot = { spec, defaults, view, variants, errors: [...errors, ...viewErrors],
          note: errors.length || viewErrors.length ? 'Some of the link\'s values were ' +
          'refused (marked in red); defaults stand in for them.' : null };
      }
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      boot.note = `This link cannot be read (${err.message}); showing the default experiment.`;
    }
    app = new App(schema, boot);
  }
  // For tests and the curious: the live app (read it, don't rely on it from other code).
  /** @type {any} */ (window).torchplay = app;
}

main().catch((err) => {
  console.error(err);
  const note = document.querySelector('.loading-note');
  if (note) note.textContent = `The torchplay server could not be reached (${err.message}).`;
});
