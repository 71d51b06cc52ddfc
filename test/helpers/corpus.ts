import type { Corpus } from '../../src/content';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { loadRealCorpus, realDatasetDir } from './dataset';

/**
 * The corpus feed tests run on: the real Reddit data when it is there (CI always has it), else the synthetic corpus,
 * saying so plainly. The feed behaviours under test hold on both; the real-data-only checks use describeWithRealData.
 */
export async function feedTestCorpus(): Promise<{ corpus: Corpus; real: boolean }> {
  if (realDatasetDir()) return { corpus: await loadRealCorpus(), real: true };
  process.stdout.write('[real data] not found: feed tests run on the synthetic corpus instead (set REDDIT_DATASET_DIR)\n');
  return { corpus: generateSyntheticCorpus(), real: false };
}
