import { titleTokens } from '../features/title-tokens';
import { indexNames, MAX_TOKEN_POSTINGS } from './indexes';
import type { CandidateSource } from './source';

/** At most this many tokens of the context title are looked up (the rarest carry the most meaning). */
const MAX_QUERY_TOKENS = 12;

/**
 * For a post context: posts of any community whose titles share words with the context post's title, most shared
 * words first (ties: the order of the token postings, i.e. post score). All tokens are read in one batch.
 */
export const similarTitlesSource: CandidateSource = {
  name: 'similar-titles',
  async fetch(req, store, limit) {
    const post = req.contextPost;
    if (!post) return [];
    const tokens = titleTokens(post.title).slice(0, MAX_QUERY_TOKENS);
    if (tokens.length === 0) return [];
    const lists = await store.readIndexes(tokens.map(indexNames.titleToken), MAX_TOKEN_POSTINGS);
    const shared = new Map<string, number>();
    for (const ids of lists) for (const id of ids) if (id !== post.id) shared.set(id, (shared.get(id) ?? 0) + 1);
    return [...shared.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([id]) => id);
  },
};
