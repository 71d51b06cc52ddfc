import type { Filter } from './filter';

/** Over-18 posts only for viewers who opted in; signed-out requests never see them. */
export const nsfwFilter: Filter = {
  name: 'nsfw',
  keep: (post, { viewer }) => !post.over18 || (viewer?.showNsfw ?? false),
};
