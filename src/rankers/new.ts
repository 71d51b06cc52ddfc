import { featureRanker, type RankerFactory } from './ranker';

/** Newest first: the score is the creation time in seconds. */
export const createNewRanker: RankerFactory = (spec) => featureRanker(spec, 'created_utc');
