import type { CandidateSource } from '../candidates/source';

/** The kinds of feed the API serves. */
export type FeedKind = 'home' | 'community' | 'post';

/** One candidate source in a pipeline, with its budget and deadline. */
export interface SourceStep {
  /** A source of src/candidates/index.ts by name, or a source object (e.g. a remote retrieval service). */
  readonly source: string | CandidateSource;
  /** The most candidates it may contribute. */
  readonly limit: number;
  /** How long it may take; past it the source contributes nothing (or fails the request, when fail-closed). */
  readonly timeoutMs: number;
  /** When true, a failure or timeout of this source fails the request instead of degrading it. @default false */
  readonly failClosed?: boolean;
}

/** Diversity: at most `maxPerCommunity` posts of one community and `maxPerDomain` of one domain in any `window` consecutive posts. */
export interface DiversityConfig {
  readonly window: number;
  readonly maxPerCommunity: number;
  readonly maxPerDomain: number;
}

/**
 * A feed as configuration, in the manner of product-mixer: which candidate sources it gathers from (in parallel,
 * each under its own budget and deadline), which filters it applies before ranking, which it applies per request
 * on the cached scored list, which diversity it enforces, and which ranker serves it when the request names none.
 * Names refer to src/candidates/index.ts, src/filters/index.ts and models/rankers.json.
 */
export interface FeedPipeline {
  readonly kind: FeedKind;
  readonly sources: readonly SourceStep[];
  /** Filters applied before ranking (their result is cached with the scores). */
  readonly filters: readonly string[];
  /**
   * Filters that depend on the moment (what the viewer has seen, their settings): applied per request to the cached
   * scored list, never cached themselves.
   */
  readonly requestFilters: readonly ('seen' | 'blocked')[];
  readonly diversity: DiversityConfig | null;
  /** The whole request's budget for candidate retrieval; a client may ask for less (`deadlineMs`). */
  readonly deadlineMs: number;
  /** Serve an expired scored list at once and re-rank in the background, instead of making the client wait. */
  readonly staleWhileRevalidate: boolean;
  /** Ranker for a signed-in viewer when the request names none. */
  readonly defaultRanker: string;
  /** Ranker for a signed-out request when it names none. */
  readonly signedOutRanker: string;
}

/**
 * The built-in sources read the store (Redis answers in a millisecond or two, and its commands time out after
 * REDIS_COMMAND_TIMEOUT_MS anyway), so these deadlines are headroom for a busy event loop, not for the store: on
 * two loaded cores the first cold requests after start-up (JIT, model warm-up) took over 250 ms. A remote source
 * gets its own, tighter timeout.
 */
const SOURCE_TIMEOUT_MS = 800;
const REQUEST_DEADLINE_MS = 1000;

const DIVERSITY: DiversityConfig = { window: 10, maxPerCommunity: 3, maxPerDomain: 4 };

export const FEED_PIPELINES: Readonly<Record<FeedKind, FeedPipeline>> = {
  home: {
    kind: 'home',
    sources: [
      // Up to 1,200 candidates (about 1,100-1,200 scored once duplicates and NSFW posts are out): every candidate
      // costs the same (hydration, features, 300 trees), and a cold request's latency is about linear in them.
      { source: 'subscriptions', limit: 1000, timeoutMs: SOURCE_TIMEOUT_MS },
      { source: 'popular', limit: 200, timeoutMs: SOURCE_TIMEOUT_MS },
    ],
    filters: ['nsfw'],
    requestFilters: ['seen', 'blocked'],
    diversity: DIVERSITY,
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: true,
    defaultRanker: 'lambdamart',
    signedOutRanker: 'hot',
  },
  community: {
    kind: 'community',
    sources: [{ source: 'community', limit: 1000, timeoutMs: SOURCE_TIMEOUT_MS }],
    filters: ['nsfw'],
    // A viewer who opens a community they blocked asked for it: blocking hides it from the other feeds only.
    requestFilters: [],
    // One community by definition: only the domain rule can bind.
    diversity: { ...DIVERSITY, maxPerCommunity: DIVERSITY.window },
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: false,
    defaultRanker: 'personalized',
    signedOutRanker: 'hot',
  },
  post: {
    kind: 'post',
    sources: [
      { source: 'same-community', limit: 500, timeoutMs: SOURCE_TIMEOUT_MS },
      { source: 'similar-titles', limit: 300, timeoutMs: SOURCE_TIMEOUT_MS },
    ],
    filters: ['nsfw'],
    requestFilters: ['blocked'],
    diversity: null,
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: false,
    defaultRanker: 'personalized',
    signedOutRanker: 'hot',
  },
};

/** Deadlines a client may ask for (`deadlineMs`), in milliseconds. */
export const MIN_DEADLINE_MS = 10;
