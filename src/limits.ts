/**
 * The bounds the API promises on its arguments (the schema's descriptions quote them): resolvers and the feed
 * service refuse values outside them with BAD_USER_INPUT, and the cost analysis prices lists with them.
 */

/** Page sizes a client may ask for (`first`). */
export const MIN_PAGE_SIZE = 1;
export const MAX_PAGE_SIZE = 100;

/** `compareRankers` looks at most this deep (`k`). */
export const MAX_COMPARE_K = 100;

/** The smallest retrieval deadline a client may ask for (`deadlineMs`); the largest is the feed's own. */
export const MIN_DEADLINE_MS = 10;

/** At most this many ids per `markSeen` call. */
export const MAX_MARK_SEEN = 500;

/** Blocked communities per viewer, at most. */
export const MAX_BLOCKED = 200;

/** Post ids are Reddit's base-36 ids; anything else cannot name a post, so it is never looked up. */
export const isPlausiblePostId = (id: string): boolean => /^[A-Za-z0-9_]{1,32}$/.test(id);

/** Community names are letters, digits and underscores, as on the site. */
export const isPlausibleCommunityName = (name: string): boolean => /^[A-Za-z0-9_]{1,64}$/.test(name);
