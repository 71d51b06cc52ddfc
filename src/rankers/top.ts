import { featureRanker, type RankerFactory } from './ranker';

/** Highest net score first: the score is the post's score. */
export const createTopRanker: RankerFactory = (spec) => featureRanker(spec, 'post_score');
