import { Mutation, Query } from './query';
import { DateTime } from './scalars';
import { FeedConnection, FeedEdge, Post, RankedItem, RankerComparisonType, RankShift } from './types';

/** Resolvers are thin: they read arguments and context, call the feed service, and shape the answer. */
export const resolvers = { Query, Mutation, DateTime, FeedConnection, FeedEdge, Post, RankerComparison: RankerComparisonType, RankedItem, RankShift };
