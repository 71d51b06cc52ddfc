/**
 * Readers for the files the MLE commands score and evaluate: CSV with a header, LibSVM (with optional `qid:`), and
 * query group files. Each returns a row-major matrix in the `FeatureBatch` shape (NaN = missing) plus labels.
 *
 * Missing values are never zeros: an empty CSV cell, `NaN`, or an index absent from a LibSVM row is NaN, which is
 * what xgboost's DMatrix makes of them (a tree then follows each split's default direction).
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import type { FeatureBatch } from '../rankers/ranker';

/** A file that cannot be read as the format it claims to be; the message names the file and line. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

export interface DataMatrix extends FeatureBatch {
  /** Number of columns (`features.length`). */
  readonly width: number;
  /** One label per row, when the format carries them (LibSVM always does; CSV only with a label column). */
  readonly labels: Float64Array | null;
  /** The `qid:` of each row, when every row has one (LibSVM). */
  readonly qids: Float64Array | null;
}

const MISSING_CELLS = new Set(['', 'nan', 'NaN', 'NAN', 'na', 'NA', 'null']);

function cellValue(cell: string, where: () => string): number {
  const s = cell.trim();
  if (MISSING_CELLS.has(s)) return NaN;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new DataFormatError(`${where()}: "${cell}" is not a number (empty or NaN means missing)`);
  return v;
}

export interface CsvOptions {
  /** A column holding labels rather than a feature (removed from `features`). */
  readonly labelColumn?: string;
}

/**
 * CSV with a header row of feature names. An empty cell, `NaN` (any case) or `NA` is a missing value. Every row must
 * have as many cells as the header.
 */
export function parseCsvMatrix(text: string, file: string, opts: CsvOptions = {}): DataMatrix {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: false, skip_empty_lines: true, trim: true, bom: true }) as string[][];
  } catch (err) {
    throw new DataFormatError(`${file}: invalid CSV: ${(err as Error).message}`);
  }
  const header = records[0];
  if (!header || header.length === 0) throw new DataFormatError(`${file}: empty CSV; expected a header row of feature names`);
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw new DataFormatError(`${file}: the header has an empty column name`);
    if (seen.has(name)) throw new DataFormatError(`${file}: the header lists "${name}" twice`);
    seen.add(name);
  }
  const labelAt = opts.labelColumn === undefined ? -1 : header.indexOf(opts.labelColumn);
  if (opts.labelColumn !== undefined && labelAt < 0) throw new DataFormatError(`${file}: no label column "${opts.labelColumn}" in the header`);
  const features = header.filter((_, i) => i !== labelAt);
  const width = features.length;
  const rows = records.length - 1;
  const values = new Float64Array(rows * width);
  const labels = labelAt >= 0 ? new Float64Array(rows) : null;
  for (let r = 0; r < rows; r++) {
    const rec = records[r + 1]!;
    const line = r + 2;
    if (rec.length !== header.length) throw new DataFormatError(`${file}:${line}: ${rec.length} cells, the header has ${header.length}`);
    let c = 0;
    for (let i = 0; i < rec.length; i++) {
      const v = cellValue(rec[i]!, () => `${file}:${line} column "${header[i]}"`);
      if (i === labelAt) {
        if (Number.isNaN(v)) throw new DataFormatError(`${file}:${line}: missing label`);
        labels![r] = v;
      } else values[r * width + c++] = v;
    }
  }
  return { features, rows, width, values, labels, qids: null };
}

export async function readCsvMatrix(file: string, opts: CsvOptions = {}): Promise<DataMatrix> {
  return parseCsvMatrix(await readText(file), file, opts);
}

export interface LibsvmOptions {
  /** Pad to at least this many columns (a model's num_feature; the file may never use the last indices). */
  readonly minWidth?: number;
}

const INDEX = /^\d+$/;

/**
 * LibSVM rows `label [qid:N] index:value ...`, read the way xgboost reads them: `index` is the column number as
 * written (0-based), so a file whose indices run 1..300 has 301 columns and column 0 is always missing. An index
 * absent from a row is a missing value, not zero. Text after `#` is a comment; blank lines are skipped.
 * Feature names are xgboost's defaults, f0, f1, ...
 */
export function parseLibsvmMatrix(text: string, file: string, opts: LibsvmOptions = {}): DataMatrix {
  const rowStart: number[] = [0];
  const cols: number[] = [];
  const vals: number[] = [];
  const labels: number[] = [];
  const qids: number[] = [];
  const lineOf: number[] = [];
  let maxIndex = -1;
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const hash = lines[ln]!.indexOf('#');
    const body = (hash >= 0 ? lines[ln]!.slice(0, hash) : lines[ln]!).trim();
    if (body === '') continue;
    const where = `${file}:${ln + 1}`;
    const tokens = body.split(/\s+/);
    // A label may carry an instance weight, "label:weight"; only the label is kept.
    const label = Number(tokens[0]!.split(':')[0]);
    if (!Number.isFinite(label)) throw new DataFormatError(`${where}: the row does not start with a numeric label ("${tokens[0]}")`);
    labels.push(label);
    let t = 1;
    if (tokens[1]?.startsWith('qid:')) {
      const q = Number(tokens[1].slice(4));
      if (!Number.isInteger(q)) throw new DataFormatError(`${where}: bad query id "${tokens[1]}"`);
      qids.push(q);
      t = 2;
    }
    lineOf.push(ln + 1);
    for (; t < tokens.length; t++) {
      const tok = tokens[t]!;
      const colon = tok.indexOf(':');
      const idx = tok.slice(0, colon);
      if (colon <= 0 || !INDEX.test(idx)) throw new DataFormatError(`${where}: "${tok}" is not index:value`);
      const col = Number(idx);
      const v = Number(tok.slice(colon + 1));
      if (!Number.isSafeInteger(col) || col > 1e8) throw new DataFormatError(`${where}: index ${idx} is too large`);
      if (tok.length === colon + 1 || !Number.isFinite(v)) throw new DataFormatError(`${where}: "${tok}" has no numeric value`);
      cols.push(col);
      vals.push(v);
      if (col > maxIndex) maxIndex = col;
    }
    rowStart.push(cols.length);
  }
  const rows = labels.length;
  if (qids.length !== 0 && qids.length !== rows) throw new DataFormatError(`${file}: some rows have qid: and some do not`);
  const width = Math.max(maxIndex + 1, opts.minWidth ?? 0);
  const values = new Float64Array(rows * width).fill(NaN);
  for (let r = 0; r < rows; r++) {
    for (let k = rowStart[r]!; k < rowStart[r + 1]!; k++) {
      const at = r * width + cols[k]!;
      // Values are finite, so a non-NaN cell means the row named this index before.
      if (!Number.isNaN(values[at]!)) throw new DataFormatError(`${file}:${lineOf[r]}: index ${cols[k]} appears twice`);
      values[at] = vals[k]!;
    }
  }
  return {
    features: Array.from({ length: width }, (_, i) => `f${i}`),
    rows,
    width,
    values,
    labels: Float64Array.from(labels),
    qids: qids.length ? Float64Array.from(qids) : null,
  };
}

export async function readLibsvmMatrix(file: string, opts: LibsvmOptions = {}): Promise<DataMatrix> {
  return parseLibsvmMatrix(await readText(file), file, opts);
}

/** A group file: one positive group size per line, in row order (LightGBM's `*.query`, xgboost's `set_group`). */
export function parseGroups(text: string, file: string): number[] {
  const sizes: number[] = [];
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (s === '') return;
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new DataFormatError(`${file}:${i + 1}: "${s}" is not a positive group size`);
    sizes.push(n);
  });
  if (sizes.length === 0) throw new DataFormatError(`${file}: no group sizes`);
  return sizes;
}

export async function readGroups(file: string): Promise<number[]> {
  return parseGroups(await readText(file), file);
}

/** Group sizes from consecutive equal qids (how xgboost groups rows that carry `qid:`). */
export function groupsFromQids(qids: Float64Array): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < qids.length; i++) {
    if (i > 0 && qids[i] === qids[i - 1]) sizes[sizes.length - 1]!++;
    else sizes.push(1);
  }
  return sizes;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new DataFormatError(`cannot read ${file}: ${(err as Error).message}`);
  }
}
