import type { GatewayContext } from '../src/context';
import type { Community, Post as PostRecord } from '../src/content';
import { GatewayError } from '../src/errors';
import type { EdgeExplanation, FeedEdgeData, FeedPage, RankerComparison } from '../src/feed/service';
import { requireMle } from './query';
import { rankedByView, rankerView } from './rankers';

/** A feed edge as resolvers see it: the edge and the page it belongs to (for explanations). */
type EdgeParent = FeedEdgeData & { page: FeedPage };

export const FeedConnection = {
  edges: (page: FeedPage): EdgeParent[] => page.edges.map((e) => ({ ...e, page })),
  pageInfo: (page: FeedPage) => page.pageInfo,
  rankedBy: (page: FeedPage, _: unknown, ctx: GatewayContext) => rankedByView(page.rankedBy, ctx),
  totalCount: (page: FeedPage) => page.totalCount,
  async funnel(page: FeedPage, _: unknown, ctx: GatewayContext) {
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

export const FeedEdge = {
  node: (edge: EdgeParent, _: unknown, ctx: GatewayContext) => postOf(edge.postId, ctx),
  async explanation(edge: EdgeParent, _: unknown, ctx: GatewayContext): Promise<EdgeExplanation | null> {
    await requireMle(ctx, 'explanation');
    return (await edge.page.explain()).get(edge.postId) ?? null;
  },
};

export const RankerComparisonType = {
  a: (c: RankerComparison, _: unknown, ctx: GatewayContext) => ({ ranker: rankerView(c.a.ranker, ctx), items: c.a.top }),
  b: (c: RankerComparison, _: unknown, ctx: GatewayContext) => ({ ranker: rankerView(c.b.ranker, ctx), items: c.b.top }),
};

export const RankedItem = {
  post: (item: { postId: string }, _: unknown, ctx: GatewayContext) => postOf(item.postId, ctx),
};

export const RankShift = {
  post: (item: { postId: string }, _: unknown, ctx: GatewayContext) => postOf(item.postId, ctx),
};

export const Post = {
  createdAt: (p: PostRecord) => p.createdUtc,
  community(p: PostRecord, _: unknown, ctx: GatewayContext): Community | Promise<Community> {
    const known = ctx.loaders.peekCommunity(p.community);
    if (known) return known;
    return ctx.loaders.communities.load(p.community).then((c) => c ?? unknownCommunity(p.community));
  },
};

/** A post's community missing from the store: its name, nothing else known. */
function unknownCommunity(name: string): Community {
  return { name, title: null, subscribers: null, postCount: 0 };
}
