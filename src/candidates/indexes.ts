import type { Corpus } from '../content';
import { hotScore } from '../features/registry';
import { titleTokens } from '../features/title-tokens';
import type { IndexEntry } from '../store/store';

/** The sort orders kept per community and globally. */
export type IndexOrder = 'hot' | 'new' | 'top';

/** Names of the candidate indexes. The store treats them as opaque keys; only this layer builds and reads them. */
export const indexNames = {
  community: (community: string, order: IndexOrder) => `community:${community}:${order}`,
  global: (order: IndexOrder) => `all:${order}`,
  titleToken: (token: string) => `title:${token}`,
};

/** A token must be shared by at least this many titles to be indexed: a token of one title finds nothing similar. */
const MIN_TOKEN_POSTS = 2;
/** Postings kept per token (the highest-scored posts): bounds the index and the cost of a look-up. */
export const MAX_TOKEN_POSTINGS = 300;

/**
 * Builds every candidate index from a corpus: per community and global sorted sets for hot, new and top, and the
 * similar-titles token index (token -> posts whose title has it, by post score).
 */
export function buildCandidateIndexes(corpus: Corpus): Map<string, IndexEntry[]> {
  const indexes = new Map<string, IndexEntry[]>();
  const add = (name: string, entry: IndexEntry) => {
    let list = indexes.get(name);
    if (!list) indexes.set(name, (list = []));
    list.push(entry);
  };
  const postings = new Map<string, IndexEntry[]>();
  for (const p of corpus.posts) {
    const hot = hotScore(p.ups - p.downs, p.createdUtc);
    for (const [order, score] of [['hot', hot], ['new', p.createdUtc], ['top', p.score]] as const) {
      add(indexNames.community(p.community, order), { id: p.id, score });
      add(indexNames.global(order), { id: p.id, score });
    }
    for (const t of titleTokens(p.title)) {
      let list = postings.get(t);
      if (!list) postings.set(t, (list = []));
      list.push({ id: p.id, score: p.score });
    }
  }
  for (const [token, list] of postings) {
    if (list.length < MIN_TOKEN_POSTS) continue;
    list.sort((a, b) => b.score - a.score);
    indexes.set(indexNames.titleToken(token), list.slice(0, MAX_TOKEN_POSTINGS));
  }
  return indexes;
}
