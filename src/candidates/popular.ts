import { indexNames } from './indexes';
import type { CandidateSource } from './source';

/** The globally most popular posts (highest score of all communities), so a home feed is never only niche. */
export const popularSource: CandidateSource = {
  name: 'popular',
  async fetch(_req, store, limit) {
    const [ids] = await store.readIndexes([indexNames.global('top')], limit);
    return ids ?? [];
  },
};
