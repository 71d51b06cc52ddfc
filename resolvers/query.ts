import { ROLE_MLE, type Viewer } from '../src/auth/tokens';
import type { GatewayContext } from '../src/context';
import { GatewayError } from '../src/errors';
import { FEATURES } from '../src/features/registry';
import { MAX_BLOCKED } from '../src/filters/viewer-state';
import { isPlausibleCommunityName, isPlausiblePostId, type FeedContext, type FeedPage, type RankerComparison } from '../src/feed/service';
import { variantView, type RankerView } from './rankers';

interface PageArgs {
  first: number;
  after?: string | null;
  ranker?: string | null;
  deadlineMs?: number | null;
  refresh?: boolean | null;
}

/**
 * Feeds report sources they were served without; the server puts them in `extensions.ranking.degraded`. The page's
 * session is noted for the response cache: a response is replayed only while its sessions are current, and never
 * after a refresh (which asks for a new session every time).
 */
function reportPage(ctx: GatewayContext, feed: string, page: FeedPage, refresh = false): FeedPage {
  for (const d of page.degraded) ctx.ranking.degraded.push({ feed, ...d });
  if (page.session && !refresh) ctx.replay.sessions.push(page.session);
  else ctx.replay.blocked = true;
  return page;
}

/** The signed-in viewer, or UNAUTHENTICATED. */
export async function requireViewer(ctx: GatewayContext, what: string): Promise<Viewer> {
  const viewer = await ctx.viewer();
  if (!viewer) throw new GatewayError('UNAUTHENTICATED', `${what} needs a viewer: send "Authorization: Bearer <token>".`);
  return viewer;
}

type ContextArg = { community?: string | null; post?: string | null };

/** How a malformed id or name is quoted back: short, on one line. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/**
 * A post id as the data set writes them (letters, digits, `_`; at most 32), else BAD_USER_INPUT. A malformed id
 * (`*`, `{x}`, a newline, 10 KB) is refused before it reaches a store key or a log line; a well-formed id that names
 * no post is not an error (it is null, or ignored).
 */
function postIdArg(id: string, argument: string): string {
  if (!isPlausiblePostId(id)) throw new GatewayError('BAD_USER_INPUT', `${argument} ${quote(id)} is not a post id (letters, digits and _, at most 32).`, { argument });
  return id;
}

/** A community name (letters, digits, `_`; at most 64), else BAD_USER_INPUT. */
function communityNameArg(name: string, argument: string): string {
  if (!isPlausibleCommunityName(name)) throw new GatewayError('BAD_USER_INPUT', `${argument} ${quote(name)} is not a community name (letters, digits and _, at most 64).`, { argument });
  return name;
}

/** @oneOf validation guarantees exactly one field is set. */
const toContext = (c: ContextArg): FeedContext =>
  typeof c.community === 'string' ? { community: communityNameArg(c.community, 'context.community') } : { post: postIdArg(String(c.post), 'context.post') };

/** The caller, who must hold the `mle` role (else FORBIDDEN; UNAUTHENTICATED when signed out). */
export async function requireMle(ctx: GatewayContext, what: string): Promise<Viewer> {
  const viewer = await ctx.viewer();
  if (!viewer) throw new GatewayError('UNAUTHENTICATED', `${what} needs a signed-in caller with the "${ROLE_MLE}" role.`);
  if (!viewer.roles.includes(ROLE_MLE)) throw new GatewayError('FORBIDDEN', `${what} needs the "${ROLE_MLE}" role.`);
  return viewer;
}

export const Query = {
  async personalizedFeed(_: unknown, args: PageArgs, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await requireViewer(ctx, 'personalizedFeed');
    const page = await ctx.feeds.page(
      { kind: 'home', viewer, context: null, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null, deadlineMs: args.deadlineMs ?? null, refresh: args.refresh ?? false, requestId: ctx.requestId },
      ctx.loaders,
    );
    return reportPage(ctx, 'personalizedFeed', page, args.refresh ?? false);
  },

  async contextualFeed(_: unknown, args: PageArgs & { context: ContextArg }, ctx: GatewayContext): Promise<FeedPage> {
    const viewer = await ctx.viewer();
    const context = toContext(args.context);
    const kind = 'community' in context ? 'community' : 'post';
    const page = await ctx.feeds.page(
      { kind, viewer, context, first: args.first, after: args.after ?? null, ranker: args.ranker ?? null, deadlineMs: args.deadlineMs ?? null, requestId: ctx.requestId },
      ctx.loaders,
    );
    return reportPage(ctx, 'contextualFeed', page);
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

  async viewerSettings(_: unknown, __: unknown, ctx: GatewayContext) {
    const viewer = await requireViewer(ctx, 'viewerSettings');
    return { blockedCommunities: await ctx.viewerState.blockedCommunities(viewer.userId) };
  },

  post: (_: unknown, { id }: { id: string }, ctx: GatewayContext) => ctx.loaders.posts.load(postIdArg(id, 'id')),

  community: (_: unknown, { name }: { name: string }, ctx: GatewayContext) => ctx.loaders.communities.load(communityNameArg(name, 'name')),
};

/** At most this many ids per markSeen call. */
export const MAX_MARK_SEEN = 500;

export const Mutation = {
  async markSeen(_: unknown, { postIds }: { postIds: string[] }, ctx: GatewayContext): Promise<number> {
    const viewer = await requireViewer(ctx, 'markSeen');
    if (postIds.length > MAX_MARK_SEEN) {
      throw new GatewayError('BAD_USER_INPUT', `markSeen takes at most ${MAX_MARK_SEEN} ids a call (got ${postIds.length}).`, { argument: 'postIds', max: MAX_MARK_SEEN });
    }
    // Only ids that name posts are recorded: a client cannot fill a viewer's seen set with garbage.
    const plausible = [...new Set(postIds.map((id, i) => postIdArg(id, `postIds[${i}]`)))];
    const found = (await ctx.loaders.posts.loadMany(plausible)).map((p, i) => (p && !(p instanceof Error) ? plausible[i]! : null)).filter((id): id is string => id !== null);
    await ctx.viewerState.addSeen(viewer.userId, found);
    return found.length;
  },

  async blockCommunity(_: unknown, { name }: { name: string }, ctx: GatewayContext) {
    const viewer = await requireViewer(ctx, 'blockCommunity');
    const community = await ctx.loaders.communities.load(communityNameArg(name, 'name'));
    if (!community) throw new GatewayError('NOT_FOUND', `No community named "${name.slice(0, 64)}".`);
    const blocked = await ctx.viewerState.blockedCommunities(viewer.userId);
    if (!blocked.includes(community.name)) {
      if (blocked.length >= MAX_BLOCKED) throw new GatewayError('BAD_USER_INPUT', `At most ${MAX_BLOCKED} communities can be blocked.`);
      await ctx.viewerState.setBlockedCommunities(viewer.userId, [...blocked, community.name]);
    }
    return { blockedCommunities: await ctx.viewerState.blockedCommunities(viewer.userId) };
  },

  async unblockCommunity(_: unknown, { name }: { name: string }, ctx: GatewayContext) {
    const viewer = await requireViewer(ctx, 'unblockCommunity');
    communityNameArg(name, 'name');
    const blocked = await ctx.viewerState.blockedCommunities(viewer.userId);
    await ctx.viewerState.setBlockedCommunities(viewer.userId, blocked.filter((c) => c !== name));
    return { blockedCommunities: await ctx.viewerState.blockedCommunities(viewer.userId) };
  },
};
