import { GatewayError } from '../src/errors';
import { MAX_BLOCKED, MAX_MARK_SEEN } from '../src/limits';
import { communityNameArg, postIdArg, requireViewer } from './arguments';
import type { MutationResolvers } from './generated/types';

export const Mutation: MutationResolvers = {
  async markSeen(_, { postIds }, ctx) {
    const viewer = await requireViewer(ctx, 'markSeen');
    if (postIds.length > MAX_MARK_SEEN) {
      throw new GatewayError('BAD_USER_INPUT', `markSeen takes at most ${MAX_MARK_SEEN} ids a call (got ${postIds.length}).`, { argument: 'postIds', max: MAX_MARK_SEEN });
    }
    // Only ids that name posts are recorded: a client cannot fill a viewer's seen set with garbage.
    const plausible = [...new Set(postIds.map((id, i) => postIdArg(id, `postIds[${i}]`)))];
    const loaded = await ctx.loaders.posts.loadMany(plausible);
    const found = plausible.filter((_, i) => {
      const p = loaded[i];
      return !!p && !(p instanceof Error);
    });
    await ctx.viewerState.addSeen(viewer.userId, found);
    return found.length;
  },

  async blockCommunity(_, { name }, ctx) {
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

  async unblockCommunity(_, { name }, ctx) {
    const viewer = await requireViewer(ctx, 'unblockCommunity');
    communityNameArg(name, 'name');
    const blocked = await ctx.viewerState.blockedCommunities(viewer.userId);
    await ctx.viewerState.setBlockedCommunities(viewer.userId, blocked.filter((c) => c !== name));
    return { blockedCommunities: await ctx.viewerState.blockedCommunities(viewer.userId) };
  },
};
