import type { GatewayContext } from '../src/context';
import type { Community, Post as PostRecord } from '../src/content';
import { GatewayError } from '../src/errors';
import type { FeedEdgeData, FeedPage } from '../src/feed/service';
import type { Ranker as RankerRecord } from '../src/rankers/ranker';

export const FeedConnection = {
  edges: (page: FeedPage) => page.edges,
  pageInfo: (page: FeedPage) => page.pageInfo,
  rankedBy: (page: FeedPage) => page.ranker,
  totalCount: (page: FeedPage) => page.totalCount,
};

export const FeedEdge = {
  async node(edge: FeedEdgeData, _: unknown, ctx: GatewayContext): Promise<PostRecord> {
    const post = await ctx.loaders.posts.load(edge.postId);
    // A snapshot outliving its post can only happen if content was removed under it; say so rather than return null.
    if (!post) throw new GatewayError('CURSOR_EXPIRED', 'A ranked post is no longer available; request the feed again.');
    return post;
  },
};

export const Post = {
  createdAt: (p: PostRecord) => p.createdUtc,
  async community(p: PostRecord, _: unknown, ctx: GatewayContext): Promise<Community> {
    return (await ctx.loaders.communities.load(p.community)) ?? { name: p.community, title: null, subscribers: null, postCount: 0 };
  },
};

export const Ranker = {
  features: (r: RankerRecord) => r.features,
};
