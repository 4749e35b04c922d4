// Chooses the ranker the daemon uses: the model file named in the config, else the
// embedded default model, and notices at each refresh (one stat; the daemon asks
// every MODEL_CHECK_EVERY reports) when that file is replaced, taking a new version once
// it is the same at two refreshes in a row. A refresh's stat, walk
// and read run in libuv's pool, not on the daemon's event loop: a user's FUSE server on
// the way (their name at a model path in /tmp, made once root's file was removed) that
// answers the pool and never the event loop held the reports and SIGTERM there. A broken embedded
// default falls back to the documented formula so that a damaged install still
// reports; a broken configured model refuses to start, since the administrator
// asked for that model and would not notice the fallback.
import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../util/logger.js';
import type { Sample } from '../collectors/types.js';
import type { Config } from '../config/config.js';
import { ModelError, errorMessage, errorReason } from '../util/errors.js';
import { holdExit } from '../util/exit.js';
import { rawFeatures, toFeatures } from './features.js';
import { describeLoaded, loadModel, loadModelAsync, staleBackbone, type LoadOptions, type LoadedModel, type ModelInput } from './model.js';
import { clampRank, formulaRanker, type Ranker, type RankerSource } from './rank.js';

// The model shipped with lavarank: models/default.json next to dist/ (dist/src/model/rankers.js → ../../../models).
export function defaultModelPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models', 'default.json');
}

// The model file a config names, else the embedded default.
export function modelPathFor(config: Readonly<Config>, options: { defaultModelPath?: string } = {}): string {
  return config.model ?? options.defaultModelPath ?? defaultModelPath();
}

// The input of a model without a network: no scaled values, which its score never reads.
const NO_SCALED: readonly number[] = Object.freeze([]);

function namedOnly(sample: Sample): ModelInput & { named: Record<string, number | null> } {
  return { values: NO_SCALED, named: rawFeatures(sample) };
}

// A ranker over a loaded model: features of the sample, the backbone and one forward
// pass, and the backbone's per-type slowdowns for the same inputs.
export function modelRanker(model: LoadedModel): Ranker {
  // A model without a network reads the raw named values alone: the scaled vector, its
  // mask and the estimates of missing inputs are the network's input, which toFeatures
  // made at each report for nothing (40 000 of a report's 1 M instructions here,
  // docs/collectors.md); score reads the vector only when there is a network.
  const inputOf = model.network === undefined ? namedOnly : toFeatures;
  return {
    name: model.id,
    rank(sample) {
      const f = inputOf(sample);
      const s = model.score(f);
      return { rank: s.rank, model: model.id, features: f.named, typed: s.typed, backbone: clampRank(s.backbone) };
    },
  };
}

// Where the model comes from, for tests and tools; defaults suit the daemon.
export interface RankerOptions extends LoadOptions {
  defaultModelPath?: string;
  signal?: AbortSignal; // the daemon's: once aborted, a refresh under way ends at its walk's next question
}

// A RankerSource that also says which model it uses.
export interface ModelRankers extends RankerSource {
  refresh(): Promise<void>; // one look at a time: while one is under way, that one; never rejects; a new version is loaded at the second look that finds it
  readonly path: string; // the file watched
  model(): LoadedModel | undefined; // undefined while the formula is in use
}

// The identity of a file's current version, from one stat: inode, size, mtime, ctime.
type Version = readonly [number, number, number, number];

function versionOf(st: Stats): Version {
  return [st.ino, st.size, st.mtimeMs, st.ctimeMs];
}

// Compared field by field with the stat itself: the daemon stats the model file once
// per report, and making a string of the four numbers each time cost more than the
// stat; a new Version each time still cost 0.3 kB a report (its numbers boxed twice).
function sameVersion(a: Version | string | undefined, st: Stats): boolean {
  return typeof a === 'object' && a[0] === st.ino && a[1] === st.size && a[2] === st.mtimeMs && a[3] === st.ctimeMs;
}

function logFields(model: LoadedModel): Record<string, unknown> {
  const t = model.file.training;
  return { model: model.id, path: model.path, trained: t.date, samples: t.samples, holdoutMae: Number(t.holdoutMae.toFixed(2)) };
}

// The ranker source for this config; throws ModelError for an unusable model file named in it.
export function openRankers(config: Readonly<Config>, log: Logger, options: RankerOptions = {}): ModelRankers {
  const path = modelPathFor(config, options);
  let seen: Version | undefined;
  try {
    seen = versionOf(statSync(path));
  } catch {
    seen = undefined; // loadModel below says why
  }
  let first: LoadedModel | FirstLoadFailed;
  try {
    first = loadModel(path, options);
  } catch (err) {
    first = new FirstLoadFailed(err);
  }
  return rankersFrom(config, log, options, path, seen, first);
}

// openRankers with the model file's first stat, walk and read asked in libuv's pool, for
// the daemon's start: a model file under a user's FUSE mount whose server answers the
// pool and never a main thread held the start there, SIGTERM and SIGKILL alike.
export async function openRankersAsync(config: Readonly<Config>, log: Logger, options: RankerOptions = {}): Promise<ModelRankers> {
  const path = modelPathFor(config, options);
  const seen = await stat(path).then(versionOf, () => undefined); // loadModelAsync below says why
  let first: LoadedModel | FirstLoadFailed;
  try {
    first = await loadModelAsync(path, options, options.signal);
  } catch (err) {
    first = new FirstLoadFailed(err);
  }
  return rankersFrom(config, log, options, path, seen, first);
}

// The first load's error, as the load threw it.
class FirstLoadFailed {
  constructor(readonly err: unknown) {}
}

// openRankers' source, given the model file's version at start and its first load.
function rankersFrom(config: Readonly<Config>, log: Logger, options: RankerOptions, path: string, version: Version | undefined, first: LoadedModel | FirstLoadFailed): ModelRankers {
  const configured = config.model !== null;
  let seen: Version | string | undefined = version; // the version last looked at, good or bad; a string: why it could not be read
  let waiting: Version | undefined; // a new version found at the last look, loaded at this one if still there
  let saidUnsettled = false; // whether the file's being replaced at every look was logged since the last load
  let retryWhy: string | undefined; // why the version seen was refused, when trying it again may work
  let model: LoadedModel | undefined;
  let ranker: Ranker;
  try {
    if (first instanceof FirstLoadFailed) throw first.err;
    model = first;
    ranker = modelRanker(model);
    log.info(logFields(model), `ranking with ${configured ? 'the configured' : 'the embedded default'} model ${describeLoaded(model)}`);
    warnIfStale(log, model);
  } catch (err) {
    if (configured) throw err instanceof ModelError ? err : new ModelError(`model file ${path}: ${errorMessage(err)}`, { cause: err });
    ranker = formulaRanker();
    log.error({ path, err: errorMessage(err) }, 'the embedded default model is unusable (damaged install?); ranking with the built-in formula');
  }

  // One look at the file, in libuv's pool. Counted by holdExit: a question that never
  // returns (a hung NFS server) would hold the stopped elim's exit.
  const look = async (): Promise<void> => {
    const release = holdExit();
    try {
      await lookOffLoop();
    } catch (err) {
      if (options.signal?.aborted !== true) log.error({ path, err: errorMessage(err) }, `checking the model file failed; keeping ${ranker.name}`);
    } finally {
      release();
    }
  };
  const lookOffLoop = async (): Promise<void> => {
    let st: Stats;
    try {
      st = await stat(path);
    } catch (err) {
      const gone = `missing:${errorReason(err)}`;
      waiting = undefined;
      if (seen !== gone) {
        log.error({ path, err: errorReason(err) }, `model file cannot be read; keeping ${ranker.name}`);
        seen = gone;
      }
      return;
    }
    // A version refused for something outside its text (its directory's mode, an
    // I/O error) is tried again at each refresh: the administrator who runs the fix
    // the log gives must not have to touch the file too. One whose text was read and
    // refused would be refused again until the file changes.
    const changed = !sameVersion(seen, st);
    if (!changed && retryWhy === undefined) return;
    // A new version is loaded once it is the same at two looks in a row: a file replaced
    // without end (a script in a loop) was loaded at every look, 0.7-1.2 s of CPU each
    // near the size limit, 1-2 % of a CPU at the 10 s interval, for a model used a minute.
    if (changed && !sameVersion(waiting, st)) {
      if (waiting !== undefined && !saidUnsettled) {
        log.warn(
          { path },
          'model file keeps being replaced: it changed again since the previous check (every sixth report); ' +
            `a new model file is used once it is unchanged from one check to the next; keeping ${ranker.name}`,
        );
        saidUnsettled = true;
      }
      waiting = versionOf(st);
      return;
    }
    waiting = undefined;
    saidUnsettled = false;
    seen = versionOf(st);
    try {
      const next = await loadModelAsync(path, options, options.signal);
      const before = ranker.name;
      model = next;
      ranker = modelRanker(next);
      retryWhy = undefined;
      log.info({ ...logFields(next), previous: before }, `model file ${changed ? 'changed' : 'usable now'}; now ranking with ${describeLoaded(next)}`);
      warnIfStale(log, next);
    } catch (err) {
      if (options.signal?.aborted === true) return;
      const why = errorMessage(err);
      if (changed || why !== retryWhy) log.error({ path, err: why }, `model file changed but cannot be used; keeping ${ranker.name}`);
      retryWhy = err instanceof ModelError && !err.refused ? undefined : why;
    }
  };
  let looking: Promise<void> | undefined;

  return {
    path,
    current: () => ranker,
    model: () => model,
    refresh() {
      looking ??= look().finally(() => {
        looking = undefined;
      });
      return looking;
    },
  };
}

// What `lavarank check` says about the model this config would use, and its problems.
// The model's walk is asked in libuv's pool (loadModelAsync), as at the daemon's start.
export async function describeModel(config: Readonly<Config>, options: RankerOptions = {}): Promise<{ description: string; problems: string[]; warnings: string[] }> {
  const path = modelPathFor(config, options);
  const what = config.model === null ? 'embedded default model' : 'model';
  try {
    const model = await loadModelAsync(path, options);
    const stale = staleBackbone(model);
    return { description: `${what} ${path}: ${describeLoaded(model)}`, problems: [], warnings: stale === undefined ? [] : [stale] };
  } catch (err) {
    const why = errorMessage(err);
    if (config.model === null) {
      return {
        description: `${what} ${path}: unusable; the daemon would rank with the built-in formula`,
        problems: [`${what} unusable (the daemon would fall back to the built-in formula): ${why}`],
        warnings: [],
      };
    }
    return { description: `${what} ${path}: unusable; the daemon would refuse to start`, problems: [why], warnings: [] };
  }
}

// The daemon's warning, at start and at each new model, for a model fitted with an older backbone.
function warnIfStale(log: Logger, model: LoadedModel): void {
  const stale = staleBackbone(model);
  if (stale !== undefined) log.warn(logFields(model), stale);
}
