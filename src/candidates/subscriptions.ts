import { indexNames } from './indexes';
import type { CandidateSource } from './source';

/** The hottest posts of each community the viewer subscribes to, shared evenly; nothing when signed out. */
export const subscriptionsSource: CandidateSource = {
  name: 'subscriptions',
  async fetch(req, store, limit) {
    const subs = req.viewer?.subscriptions ?? [];
    if (subs.length === 0) return [];
    const perCommunity = Math.ceil(limit / subs.length);
    const lists = await store.readIndexes(subs.map((s) => indexNames.community(s.community, 'hot')), perCommunity);
    // A loop, not lists.flat(): flat() follows the spec's generic steps per element (a has-property test, an IsArray
    // check, a define-property on a newly created result) and cannot stop at `limit`; this runs on every cold request.
    const out: string[] = [];
    for (const list of lists) {
      for (const id of list) {
        if (out.length >= limit) return out;
        out.push(id);
      }
    }
    return out;
  },
};
