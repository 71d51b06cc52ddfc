import type { Community, Post as PostRecord } from '../src/content';
import { GatewayError } from '../src/errors';
import type { GatewayContext } from './context';
import type { EdgeParent } from './parents';
import type {
  FeedConnectionResolvers,
  FeedEdgeResolvers,
  PostResolvers,
  RankedItemResolvers,
  RankerComparisonResolvers,
  RankShiftResolvers,
} from './generated/types';
import { requireMle } from './arguments';
import { rankedByView, rankerView } from './rankers';

export const FeedConnection: FeedConnectionResolvers = {
  edges: (page): EdgeParent[] => page.edges.map((e) => ({ ...e, page })),
  pageInfo: (page) => page.pageInfo,
  rankedBy: (page, _, ctx) => rankedByView(page.rankedBy, ctx),
  totalCount: (page) => page.totalCount,
  async funnel(page, _, ctx) {
    await requireMle(ctx, 'funnel');
    const f = page.funnel;
    const counts = (r: Readonly<Record<string, number>>) => Object.entries(r).map(([name, count]) => ({ name, count }));
    return { ...f, retrieved: counts(f.retrieved), filtered: [...counts(f.filtered), ...counts(f.requestFiltered)] };
  },
};

/** The post of a ranked id: synchronously when this request has read it already (see `Loaders.peekPost`). */
function postOf(id: string, ctx: GatewayContext): PostRecord | Promise<PostRecord> {
  const post = ctx.loaders.peekPost(id);
  return post ? post : loadPost(id, ctx);
}

async function loadPost(id: string, ctx: GatewayContext): Promise<PostRecord> {
  const post = await ctx.loaders.posts.load(id);
  // A ranked post missing from the store can only mean content was replaced under a snapshot.
  if (!post) throw new GatewayError('CURSOR_EXPIRED', 'A ranked post is no longer available; request the feed again.');
  return post;
}

export const FeedEdge: FeedEdgeResolvers = {
  node: (edge, _, ctx) => postOf(edge.postId, ctx),
  async explanation(edge, _, ctx) {
    await requireMle(ctx, 'explanation');
    return (await edge.page.explain()).get(edge.postId) ?? null;
  },
};

export const RankerComparison: RankerComparisonResolvers = {
  a: (c, _, ctx) => ({ ranker: rankerView(c.a.ranker, ctx), items: [...c.a.top] }),
  b: (c, _, ctx) => ({ ranker: rankerView(c.b.ranker, ctx), items: [...c.b.top] }),
};

export const RankedItem: RankedItemResolvers = {
  post: (item, _, ctx) => postOf(item.postId, ctx),
};

export const RankShift: RankShiftResolvers = {
  post: (item, _, ctx) => postOf(item.postId, ctx),
};

export const Post: PostResolvers = {
  createdAt: (p) => p.createdUtc,
  community(p, _, ctx): Community | Promise<Community> {
    const known = ctx.loaders.peekCommunity(p.community);
    if (known) return known;
    return ctx.loaders.communities.load(p.community).then((c) => c ?? unknownCommunity(p.community));
  },
};

/** A post's community missing from the store: its name, nothing else known. */
function unknownCommunity(name: string): Community {
  return { name, title: null, subscribers: null, postCount: 0 };
}
