/**
 * Access to the real Reddit data for tests. CI puts it beside the repository (`../shared/data/...`); elsewhere
 * REDDIT_DATASET_DIR points at it, and without either the real-data tests say they did not run instead of failing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Corpus } from '../../src/content';
import { loadRedditCsv } from '../../src/dataset/reddit-csv';

const ENV_VAR = 'REDDIT_DATASET_DIR';
const DEFAULT_DIR = path.resolve(__dirname, '../../../shared/data/reddit-top-2.5-million');

export function realDatasetDir(): string | null {
  const fromEnv = process.env[ENV_VAR];
  // An explicit setting is returned even if wrong, so a typo fails loudly instead of silently skipping.
  if (fromEnv) return fromEnv;
  return isDirectory(DEFAULT_DIR) ? DEFAULT_DIR : null;
}

/**
 * `describe(name, fn)` when the real data is present. Otherwise one passing placeholder test, so the run shows
 * that these tests exist and were not run (a `.skip` is easy to overlook and reads as deliberate).
 */
export function describeWithRealData(name: string, fn: () => void): void {
  if (realDatasetDir() !== null) {
    describe(name, fn);
    return;
  }
  // process.stdout rather than console.log: jest decorates console output with a stack trace.
  process.stdout.write(
    `[real data] "${name}" not run: no Reddit dataset at ${DEFAULT_DIR} and ${ENV_VAR} is not set ` +
      `(set ${ENV_VAR}=/path/to/reddit-top-2.5-million to run them)\n`,
  );
  describe(name, () => {
    test(`not run: Reddit dataset not found (set ${ENV_VAR})`, () => {});
  });
}

let cached: Promise<{ corpus: Corpus; warnings: string[] }> | null = null;

/** The real folder loaded once per test file (each jest file has its own module registry). */
export function loadRealDataset(): Promise<{ corpus: Corpus; warnings: string[] }> {
  if (!cached) {
    const dir = realDatasetDir();
    if (dir === null) return Promise.reject(new Error(`no Reddit dataset: set ${ENV_VAR}`));
    cached = loadRedditCsv(dir);
  }
  return cached;
}

export async function loadRealCorpus(): Promise<Corpus> {
  return (await loadRealDataset()).corpus;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
