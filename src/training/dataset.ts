// Calibration datasets (JSON lines written by `lavarank calibrate`): each line has
// at least {sample, slowdown}, the raw sample taken just before the probe started
// (what the daemon would have seen when LIM placed the job) and the probe's
// slowdown in percent. Read whole (they are small) and checked line by line.
import { createHash } from 'node:crypto';
import { stripBom } from '../util/bom.js';
import { readRegularBytesAsync } from '../util/paths.js';
import type { Sample } from '../collectors/types.js';
import { ParseError, errorReason } from '../util/errors.js';
import { toFeatures } from '../model/features.js';
import type { TrainingRow } from './train.js';

// One line of a calibration dataset: at least the sample and the slowdown in percent.
export interface CalibrationRecord {
  sample: Sample;
  slowdown: number;
  [other: string]: unknown;
}

// Calibration files larger than this are refused (a real one is well under 10 MB).
export const MAX_DATASET_BYTES = 256 * 1024 * 1024;

// What readCalibrationAsync found in one file.
export interface CalibrationFile {
  path: string;
  sha256: string;
  records: CalibrationRecord[];
  skipped: number;
  problems: string[]; // the first few skipped lines, with their line numbers
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Parses dataset text; a bad line is skipped and reported with its number, never fatal.
export function parseCalibration(text: string, where: string): Omit<CalibrationFile, 'path' | 'sha256'> {
  const records: CalibrationRecord[] = [];
  const problems: string[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let why: string | undefined;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      why = i === lines.length - 1 ? 'incomplete last line' : `not JSON (${(err as Error).message})`;
    }
    if (why === undefined) {
      if (!isObject(value)) why = 'not a JSON object';
      else if (typeof value['slowdown'] !== 'number' || !Number.isFinite(value['slowdown'])) why = 'slowdown is not a finite number';
      else if (!isObject(value['sample'])) why = 'sample is not an object';
      else if (typeof value['sample']['ts'] !== 'number') why = 'sample.ts is not a number';
    }
    if (why !== undefined) {
      skipped++;
      if (problems.length < 20) problems.push(`${where}:${i + 1}: ${why}`);
      return;
    }
    const record = value as CalibrationRecord;
    if (!isObject(record.sample.failures)) (record.sample as Sample).failures = {};
    records.push(record);
  });
  return { records, skipped, problems };
}

// Reads one dataset file; throws ParseError when it cannot be read at all. Its open,
// fstat and reads are asked in libuv's pool: on a user's FUSE mount whose server answers
// the pool and never a main thread, retrain's and recommend's read held the main thread.
export async function readCalibrationAsync(path: string): Promise<CalibrationFile> {
  let buf: Buffer;
  try {
    // A FIFO or a device is refused at once, a file over the limit before it is read.
    buf = await readRegularBytesAsync(path, MAX_DATASET_BYTES);
  } catch (err) {
    throw new ParseError(path, `cannot read the calibration dataset: ${errorReason(err)}`, { cause: err });
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  return { path, sha256, ...parseCalibration(stripBom(buf.toString('utf8')), path) };
}

// A run whose neighbours' CPU use (the share of CPUs used by processes calibrate did
// not start) rose by more than this while the probe ran: its slowdown has a cause
// that the sample taken before the probe cannot show, so it cannot be learnt from.
export const MAX_FOREIGN_RISE = 0.15;

// Why a calibration record should not be trained on, or undefined if it should.
export function unusableReason(record: CalibrationRecord): string | undefined {
  const foreign = record['foreign'];
  if (isObject(foreign) && typeof foreign['before'] === 'number' && typeof foreign['during'] === 'number') {
    const rise = foreign['during'] - foreign['before'];
    if (rise > MAX_FOREIGN_RISE) return `other processes' CPU use rose by ${(rise * 100).toFixed(0)} % of the CPUs during the probe`;
  }
  return undefined;
}

// The records that may be trained on, and how many were left out (unusableReason), as
// train-default and retrain both read a calibration dataset; FOREIGN_RISE_WHY says why.
export function usableRecords(records: readonly CalibrationRecord[]): { usable: CalibrationRecord[]; leftOut: number } {
  const usable = records.filter((r) => unusableReason(r) === undefined);
  return { usable, leftOut: records.length - usable.length };
}

// Why usableRecords left records out, for a line of output.
export const FOREIGN_RISE_WHY = `others' CPU use rose by more than ${MAX_FOREIGN_RISE * 100} % of the CPUs while the probe ran`;

// The group a record belongs to for grouped validation: its stressor configuration
// (a dataset from before the squeeze has no squeeze key: none), or undefined.
export function configurationOf(record: CalibrationRecord): string | undefined {
  const c = record['config'];
  if (!isObject(c)) return undefined;
  const n = (k: string): number => (typeof c[k] === 'number' ? c[k] : 0);
  return `cpu=${n('cpuHogs')} membw=${n('membw')} mem=${n('mem')} disk=${n('disk')} squeeze=${n('squeeze')}`;
}

// Training rows from calibration records, through the daemon's own toFeatures.
export function calibrationRows(records: readonly CalibrationRecord[]): TrainingRow[] {
  return records.map((r) => {
    const f = toFeatures(r.sample);
    const row: TrainingRow = { values: f.values, mask: f.mask, named: f.named, label: r.slowdown };
    const group = configurationOf(r);
    if (group !== undefined) row.group = group;
    const raw = r.sample.load?.load1PerCpu;
    if (raw !== undefined && Number.isFinite(raw)) row.rawLoad1PerCpu = raw;
    return row;
  });
}
