import { ROLE_MLE, type Viewer } from '../src/auth/tokens';
import { GatewayError } from '../src/errors';
import type { FeedContext } from '../src/feed/page';
import { isPlausibleCommunityName, isPlausiblePostId } from '../src/limits';
import type { GatewayContext } from './context';
import type { FeedContext as FeedContextArg } from './generated/types';

/** The signed-in viewer, or UNAUTHENTICATED. */
export async function requireViewer(ctx: GatewayContext, what: string): Promise<Viewer> {
  const viewer = await ctx.viewer();
  if (!viewer) throw new GatewayError('UNAUTHENTICATED', `${what} needs a viewer: send "Authorization: Bearer <token>".`);
  return viewer;
}

/** How a malformed id or name is quoted back: short, on one line. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/**
 * A post id as the data set writes them (letters, digits, `_`; at most 32), else BAD_USER_INPUT. A malformed id
 * (`*`, `{x}`, a newline, 10 KB) is refused before it reaches a store key or a log line; a well-formed id that names
 * no post is not an error (it is null, or ignored).
 */
export function postIdArg(id: string, argument: string): string {
  if (!isPlausiblePostId(id)) throw new GatewayError('BAD_USER_INPUT', `${argument} ${quote(id)} is not a post id (letters, digits and _, at most 32).`, { argument });
  return id;
}

/** A community name (letters, digits, `_`; at most 64), else BAD_USER_INPUT. */
export function communityNameArg(name: string, argument: string): string {
  if (!isPlausibleCommunityName(name)) throw new GatewayError('BAD_USER_INPUT', `${argument} ${quote(name)} is not a community name (letters, digits and _, at most 64).`, { argument });
  return name;
}

/** A `FeedContext` argument (@oneOf: exactly one field is set), checked. */
export const contextArg = (c: FeedContextArg): FeedContext =>
  typeof c.community === 'string' ? { community: communityNameArg(c.community, 'context.community') } : { post: postIdArg(String(c.post), 'context.post') };

/** The feed a context is about: the `community` or the `post` pipeline. */
export const feedOfContext = (c: FeedContext): string => ('community' in c ? 'community' : 'post');

/** The caller, who must hold the `mle` role (else FORBIDDEN; UNAUTHENTICATED when signed out). */
export async function requireMle(ctx: GatewayContext, what: string): Promise<Viewer> {
  const viewer = await ctx.viewer();
  if (!viewer) throw new GatewayError('UNAUTHENTICATED', `${what} needs a signed-in caller with the "${ROLE_MLE}" role.`);
  if (!viewer.roles.includes(ROLE_MLE)) throw new GatewayError('FORBIDDEN', `${what} needs the "${ROLE_MLE}" role.`);
  return viewer;
}
