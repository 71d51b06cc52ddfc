import { GatewayError } from '../src/errors';
import type { GatewayContext } from '../src/context';
import { isPlausibleCommunityName, isPlausiblePostId, type FeedContext, type FeedPage } from '../src/feed/service';

interface PageArgs {
  first: number;
  after?: string | null;
  ranker?: string | null;
}

export const Query = {
  async personalizedFeed(_: unknown, args: PageArgs, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await ctx.viewer();
    if (!viewer) throw new GatewayError('UNAUTHENTICATED', 'personalizedFeed needs a viewer: send "Authorization: Bearer <token>".');
    return ctx.feeds.page({ kind: 'home', viewer, context: null, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null }, ctx.loaders);
  },

  async contextualFeed(_: unknown, args: PageArgs & { context: { community?: string | null; post?: string | null } }, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await ctx.viewer();
    // @oneOf validation guarantees exactly one field is set.
    const context: FeedContext = typeof args.context.community === 'string' ? { community: args.context.community } : { post: String(args.context.post) };
    const kind = 'community' in context ? 'community' : 'post';
    return ctx.feeds.page({ kind, viewer, context, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null }, ctx.loaders);
  },

  rankers: (_: unknown, __: unknown, ctx: GatewayContext) => ctx.rankers.list(),

  post: (_: unknown, { id }: { id: string }, ctx: GatewayContext) => (isPlausiblePostId(id) ? ctx.loaders.posts.load(id) : null),

  community: (_: unknown, { name }: { name: string }, ctx: GatewayContext) => (isPlausibleCommunityName(name) ? ctx.loaders.communities.load(name) : null),
};
