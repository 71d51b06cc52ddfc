import { indexNames } from './indexes';
import type { CandidateSource } from './source';

/** For a post context: the hottest other posts of the context post's community. */
export const sameCommunitySource: CandidateSource = {
  name: 'same-community',
  async fetch(req, store, limit) {
    const post = req.contextPost;
    if (!post) return [];
    const [ids] = await store.readIndexes([indexNames.community(post.community, 'hot')], limit + 1);
    return (ids ?? []).filter((id) => id !== post.id).slice(0, limit);
  },
};
