import type { Post } from '../content';
import { GatewayError, truncateForMessage as truncate } from '../errors';
import type { Loaders } from '../features/loaders';
import { isPlausibleCommunityName, isPlausiblePostId } from '../limits';
import type { FeedPipeline } from '../pipeline/feeds';
import type { FeedContext } from './page';

/** A feed's context, looked up: what the pipeline runs around, and its part of the snapshot key. */
export interface ResolvedContext {
  readonly community: string | null;
  readonly contextPost: Post | null;
  readonly label: string;
}

/**
 * Looks the request's context up (NOT_FOUND when it names nothing) and checks it is the kind the feed is about: a
 * community feed needs a community, a post feed a post, and a feed about nothing takes none.
 */
export async function resolveContext(pipeline: FeedPipeline, ctx: FeedContext | null, loaders: Loaders): Promise<ResolvedContext> {
  const given = !ctx ? 'none' : 'community' in ctx ? 'community' : 'post';
  if (given !== pipeline.context) {
    throw new GatewayError('BAD_USER_INPUT', `The ${pipeline.name} feed takes ${pipeline.context === 'none' ? 'no context' : `a ${pipeline.context} as its context`}.`, {
      argument: 'context',
    });
  }
  if (!ctx) return { community: null, contextPost: null, label: '' };
  if ('community' in ctx) {
    const name = ctx.community;
    const found = isPlausibleCommunityName(name) ? await loaders.communities.load(name) : null;
    if (!found) throw new GatewayError('NOT_FOUND', `No community named "${truncate(name)}".`, { context: 'community' });
    return { community: found.name, contextPost: null, label: `community:${found.name}` };
  }
  const id = ctx.post;
  const post = isPlausiblePostId(id) ? await loaders.posts.load(id) : null;
  if (!post) throw new GatewayError('NOT_FOUND', `No post with id "${truncate(id)}".`, { context: 'post' });
  return { community: null, contextPost: post, label: `post:${post.id}` };
}
