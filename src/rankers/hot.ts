import { featureRanker, type RankerFactory } from './ranker';

/** Reddit's hot ranking: net votes against age (the `hot` feature holds the formula). */
export const createHotRanker: RankerFactory = (spec) => featureRanker(spec, 'hot');
