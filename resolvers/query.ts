import { ROLE_MLE, type Viewer } from '../src/auth/tokens';
import type { GatewayContext } from '../src/context';
import { GatewayError } from '../src/errors';
import { FEATURES } from '../src/features/registry';
import { isPlausibleCommunityName, isPlausiblePostId, type FeedContext, type FeedPage, type RankerComparison } from '../src/feed/service';
import { variantView, type RankerView } from './rankers';

interface PageArgs {
  first: number;
  after?: string | null;
  ranker?: string | null;
}

type ContextArg = { community?: string | null; post?: string | null };

/** @oneOf validation guarantees exactly one field is set. */
const toContext = (c: ContextArg): FeedContext => (typeof c.community === 'string' ? { community: c.community } : { post: String(c.post) });

/** The caller, who must hold the `mle` role (else FORBIDDEN; UNAUTHENTICATED when signed out). */
export async function requireMle(ctx: GatewayContext, what: string): Promise<Viewer> {
  const viewer = await ctx.viewer();
  if (!viewer) throw new GatewayError('UNAUTHENTICATED', `${what} needs a signed-in caller with the "${ROLE_MLE}" role.`);
  if (!viewer.roles.includes(ROLE_MLE)) throw new GatewayError('FORBIDDEN', `${what} needs the "${ROLE_MLE}" role.`);
  return viewer;
}

export const Query = {
  async personalizedFeed(_: unknown, args: PageArgs, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await ctx.viewer();
    if (!viewer) throw new GatewayError('UNAUTHENTICATED', 'personalizedFeed needs a viewer: send "Authorization: Bearer <token>".');
    return ctx.feeds.page({ kind: 'home', viewer, context: null, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null }, ctx.loaders);
  },

  async contextualFeed(_: unknown, args: PageArgs & { context: ContextArg }, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await ctx.viewer();
    const context = toContext(args.context);
    const kind = 'community' in context ? 'community' : 'post';
    return ctx.feeds.page({ kind, viewer, context, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null }, ctx.loaders);
  },

  async rankers(_: unknown, __: unknown, ctx: GatewayContext): Promise<RankerView[]> {
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

  async compareRankers(
    _: unknown,
    args: { a: string; b: string; context?: ContextArg | null; viewer?: string | null; k: number },
    ctx: GatewayContext,
  ): Promise<RankerComparison> {
    const caller = await requireMle(ctx, 'compareRankers');
    return ctx.feeds.compare(
      { viewerId: args.viewer ?? caller.userId, context: args.context ? toContext(args.context) : null, a: args.a, b: args.b, k: args.k, caller },
      ctx.loaders,
    );
  },

  features: () => FEATURES,

  post: (_: unknown, { id }: { id: string }, ctx: GatewayContext) => (isPlausiblePostId(id) ? ctx.loaders.posts.load(id) : null),

  community: (_: unknown, { name }: { name: string }, ctx: GatewayContext) => (isPlausibleCommunityName(name) ? ctx.loaders.communities.load(name) : null),
};
