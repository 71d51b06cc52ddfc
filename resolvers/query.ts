import { ROLE_MLE } from '../src/auth/tokens';
import { FEATURES } from '../src/features/registry';
import { communityNameArg, contextArg, feedOfContext, postIdArg, requireMle, requireViewer } from './arguments';
import { feedPage, feedResolver } from './feeds';
import type { QueryResolvers } from './generated/types';
import { variantView } from './rankers';

/** Thin: read arguments and context, call the feed service (or the ranker registry, or a loader), shape the answer. */
export const Query: QueryResolvers = {
  personalizedFeed: feedResolver('home', { viewer: 'required' }),

  async contextualFeed(_, args, ctx, info) {
    const context = contextArg(args.context);
    return feedPage(ctx, info.fieldName, feedOfContext(context), await ctx.viewer(), args, context);
  },

  async rankers(_, __, ctx) {
    let mle = false;
    try {
      mle = (await ctx.viewer())?.roles.includes(ROLE_MLE) ?? false;
    } catch {
      // A broken token only hides the MLE-only variants here; the fields that need the viewer report it.
    }
    return ctx.rankers
      .list()
      .filter((v) => v.config.public || mle)
      .map(variantView);
  },

  async compareRankers(_, args, ctx) {
    const caller = await requireMle(ctx, 'compareRankers');
    const context = args.context ? contextArg(args.context) : null;
    return ctx.feeds.compare(
      { feed: context ? feedOfContext(context) : 'home', viewerId: args.viewer ?? caller.userId, context, a: args.a, b: args.b, k: args.k, caller },
      ctx.loaders,
    );
  },

  features: () => [...FEATURES],

  async viewerSettings(_, __, ctx) {
    const viewer = await requireViewer(ctx, 'viewerSettings');
    return { blockedCommunities: await ctx.viewerState.blockedCommunities(viewer.userId) };
  },

  post: (_, { id }, ctx) => ctx.loaders.posts.load(postIdArg(id, 'id')),

  community: (_, { name }, ctx) => ctx.loaders.communities.load(communityNameArg(name, 'name')),
};
