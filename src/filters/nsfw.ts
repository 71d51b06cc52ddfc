import type { CandidateFilter } from './filter';

/** Over-18 posts only for viewers who opted in; signed-out requests never see them. */
export const nsfwFilter: CandidateFilter = {
  name: 'nsfw',
  stage: 'candidates',
  apply: (candidates, { viewer }) => (viewer?.showNsfw ? candidates : candidates.filter((c) => !c.post.over18)),
};
