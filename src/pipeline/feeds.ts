/** The kinds of feed the API serves. */
export type FeedKind = 'home' | 'community' | 'post';

/** One candidate source in a pipeline, with the most candidates it may contribute. */
export interface SourceStep {
  readonly source: string;
  readonly limit: number;
}

/**
 * A feed as configuration, in the manner of product-mixer: which candidate sources it gathers from (in parallel),
 * which filters it applies, and which ranker serves it when the request names none.
 * Names refer to src/candidates/index.ts, src/filters/index.ts and models/rankers.json.
 */
export interface FeedPipeline {
  readonly kind: FeedKind;
  readonly sources: readonly SourceStep[];
  readonly filters: readonly string[];
  /** Ranker for a signed-in viewer when the request names none. */
  readonly defaultRanker: string;
  /** Ranker for a signed-out request when it names none. */
  readonly signedOutRanker: string;
}

export const FEED_PIPELINES: Readonly<Record<FeedKind, FeedPipeline>> = {
  home: {
    kind: 'home',
    sources: [
      { source: 'subscriptions', limit: 1200 },
      { source: 'popular', limit: 300 },
    ],
    filters: ['nsfw'],
    defaultRanker: 'lambdamart',
    signedOutRanker: 'hot',
  },
  community: {
    kind: 'community',
    sources: [{ source: 'community', limit: 1000 }],
    filters: ['nsfw'],
    defaultRanker: 'personalized',
    signedOutRanker: 'hot',
  },
  post: {
    kind: 'post',
    sources: [
      { source: 'same-community', limit: 500 },
      { source: 'similar-titles', limit: 300 },
    ],
    filters: ['nsfw'],
    defaultRanker: 'personalized',
    signedOutRanker: 'hot',
  },
};
