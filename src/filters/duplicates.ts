import type { Candidate } from '../features/hydrators';
import type { CandidateFilter } from './filter';

/** A post several sources returned is kept once, where it first appeared (sources are merged in pipeline order). */
export const duplicatesFilter: CandidateFilter = {
  name: 'duplicates',
  stage: 'candidates',
  apply(candidates) {
    const seen = new Set<string>();
    const kept: Candidate[] = [];
    for (const c of candidates) {
      if (seen.has(c.post.id)) continue;
      seen.add(c.post.id);
      kept.push(c);
    }
    return kept.length === candidates.length ? candidates : kept;
  },
};
