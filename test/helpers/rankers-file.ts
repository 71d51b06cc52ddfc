/** A ranker configuration (models/rankers.json's shape) in a temporary folder of its own, for one test's variants. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TempRankersFile {
  readonly file: string;
  remove(): void;
}

export function tempRankersFile(config: { readonly rankers: readonly unknown[]; readonly experiments?: readonly unknown[] }): TempRankersFile {
  const dir = mkdtempSync(path.join(tmpdir(), 'rg-rankers-'));
  const file = path.join(dir, 'rankers.json');
  writeFileSync(file, JSON.stringify(config));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A configuration whose home and context feeds' default rankers are configured but cannot load. */
export const FAILED_DEFAULTS = {
  hot: { id: 'hot', kind: 'hot', version: '1', description: 'hot' },
  /** A model file that is not there. */
  lambdamart: { id: 'lambdamart', kind: 'xgboost', description: 'its model is missing', params: { model: 'no-such-model.json' } },
} as const;
