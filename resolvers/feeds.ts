import type { Viewer } from '../src/auth/tokens';
import type { FeedContext, FeedPage } from '../src/feed/page';
import { requireViewer } from './arguments';
import type { GatewayContext } from './context';
import type { ResolverFn } from './generated/types';

/** The arguments every feed field takes (schema/schema.graphql); `refresh` only where the field declares it. */
export interface FeedArgs {
  readonly first: number;
  readonly after?: string | null;
  readonly ranker?: string | null;
  readonly deadlineMs?: number | null;
  readonly refresh?: boolean | null;
}

/**
 * Asks the feed service for a page of `feed`, and reports it: sources it was served without go to
 * `extensions.ranking.degraded`, and its session to the response cache (a response is replayed only while its
 * sessions are current, and never after a refresh, which asks for a new session every time).
 */
export async function feedPage(ctx: GatewayContext, field: string, feed: string, viewer: Viewer | null, args: FeedArgs, context: FeedContext | null): Promise<FeedPage> {
  const refresh = args.refresh ?? false;
  const page = await ctx.feeds.page(
    { feed, viewer, context, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null, deadlineMs: args.deadlineMs ?? null, refresh, requestId: ctx.requestId },
    ctx.loaders,
  );
  for (const d of page.degraded) ctx.ranking.degraded.push({ feed: field, ...d });
  if (page.session && !refresh) ctx.replay.sessions.push(page.session);
  else ctx.replay.blocked = true;
  return page;
}

/**
 * The resolver of a feed field without a context: a page of `feed` for the caller. `viewer: 'required'` answers
 * UNAUTHENTICATED when signed out; 'optional' serves signed out and personalizes when a token is sent.
 */
export function feedResolver(feed: string, opts: { readonly viewer: 'required' | 'optional' }): ResolverFn<FeedPage, unknown, GatewayContext, FeedArgs> {
  return async (_parent, args, ctx, info) => {
    const viewer = opts.viewer === 'required' ? await requireViewer(ctx, info.fieldName) : await ctx.viewer();
    return feedPage(ctx, info.fieldName, feed, viewer, args, null);
  };
}
