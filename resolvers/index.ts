import type { Resolvers } from './generated/types';
import { Mutation } from './mutation';
import { Query } from './query';
import { DateTime } from './scalars';
import { FeedConnection, FeedEdge, Post, RankedItem, RankerComparison, RankShift } from './types';

/** Resolvers are thin: they read arguments and context, call the feed service, and shape the answer. */
export const resolvers: Resolvers = { Query, Mutation, DateTime, FeedConnection, FeedEdge, Post, RankerComparison, RankedItem, RankShift };

export { feedPage, feedResolver } from './feeds';
export type { GatewayContext } from './context';
