import { indexNames } from './indexes';
import type { CandidateSource } from './source';

/** The posts of the feed's context community (its hottest, up to the limit). */
export const communitySource: CandidateSource = {
  name: 'community',
  async fetch(req, store, limit) {
    if (!req.community) return [];
    const [ids] = await store.readIndexes([indexNames.community(req.community, 'hot')], limit);
    return ids ?? [];
  },
};
