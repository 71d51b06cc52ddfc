import type { SessionFilter } from './filter';

/** Posts of communities the viewer blocked are left out. */
export const blockedFilter: SessionFilter<ReadonlySet<string>> = {
  name: 'blocked',
  stage: 'session',
  read: async (userId, viewers) => new Set(await viewers.blockedCommunities(userId)),
  keep: (list, i, blocked) => !blocked.has(list.communities[i]!),
};
