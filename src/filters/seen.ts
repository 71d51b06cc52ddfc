import type { SessionFilter } from './filter';

/** Posts already shown to the viewer (or reported with `markSeen`) are left out of a new session. */
export const seenFilter: SessionFilter<ReadonlySet<string>> = {
  name: 'seen',
  stage: 'session',
  read: (userId, viewers) => viewers.seen(userId),
  keep: (list, i, seen) => !seen.has(list.ids[i]!),
};
