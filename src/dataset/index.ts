/**
 * Picks the corpus the gateway serves: a Reddit Top 2.5 Million folder when one is configured, else the
 * generated corpus (so the gateway, its tests and its benchmarks run without any downloaded data).
 */
import type { Corpus } from '../content';
import { loadRedditCsv } from './reddit-csv';
import { generateSyntheticCorpus } from './synthetic';

export { loadRedditCsv } from './reddit-csv';
export {
  generateSyntheticCorpus,
  syntheticCommunities,
  syntheticDatasetInfo,
  syntheticPosts,
  SYNTHETIC_GENERATOR_VERSION,
} from './synthetic';
export type { SyntheticOptions } from './synthetic';

export interface LoadCorpusOptions {
  /** A folder in the Reddit Top 2.5 Million layout (`manifest.json`, `data/*.csv`); empty or null means none. */
  datasetDir?: string | null;
  /** Size of the synthetic corpus used when there is no folder (default 20,000). */
  syntheticPosts?: number;
  /** Seed of the synthetic corpus (default 1). */
  syntheticSeed?: number;
}

export async function loadCorpus(opts: LoadCorpusOptions): Promise<{ corpus: Corpus; warnings: string[] }> {
  if (opts.datasetDir) return loadRedditCsv(opts.datasetDir);
  const corpus = generateSyntheticCorpus({ posts: opts.syntheticPosts, seed: opts.syntheticSeed });
  return { corpus, warnings: [] };
}
