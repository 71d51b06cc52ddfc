import type { CandidateSource } from '../candidates/source';
import type { DiversityRule } from '../selectors/diversity';

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

/** A selector of src/selectors/index.ts by name, with the options it takes. */
export interface SelectorStep {
  readonly name: string;
  readonly options?: unknown;
}

/**
 * A feed as configuration, in the manner of product-mixer: every stage a request of this feed goes through, in
 * order, by name. src/pipeline/runner.ts runs them; src/pipeline/validate.ts checks every name at start-up.
 *
 *   sources      gathered in parallel, each under its own budget and deadline          src/candidates/
 *   hydration    ids to posts, then what features read                                 src/features/hydrators.ts
 *   filters      candidate filters before scoring (cached with the scores), then       src/filters/
 *                session filters on the cached ranked list, per session
 *   scorer       the ranker when the request names none (signed in, signed out)        models/rankers.json
 *   selectors    shape each session's list (diversity, interleaving)                   src/selectors/
 *   sideEffects  work the answer does not wait for (shadows, feature log, seen)        src/side-effects/
 *
 * To add a feed: add an entry here, a field to schema/schema.graphql, and its resolver line (docs/extending.md).
 */
export interface FeedPipeline {
  /** The feed's name: in snapshot keys, metrics (`feed` label), the feature log and experiments' `feed`. */
  readonly name: string;
  /** What the feed is about: nothing but the viewer, a community, or a post (the request's `context`). */
  readonly context: 'none' | 'community' | 'post';
  readonly sources: readonly SourceStep[];
  readonly hydration: readonly string[];
  readonly filters: readonly string[];
  readonly scorer: {
    /** Ranker for a signed-in viewer when the request names none (and no experiment applies). */
    readonly defaultRanker: string;
    /** Ranker for a signed-out request when it names none; also what serves when the default cannot. */
    readonly signedOutRanker: string;
  };
  readonly selectors: readonly SelectorStep[];
  readonly sideEffects: readonly string[];
  /** The whole request's budget for candidate retrieval; a client may ask for less (`deadlineMs`). */
  readonly deadlineMs: number;
  /** Serve an expired scored list at once and re-rank in the background, instead of making the client wait. */
  readonly staleWhileRevalidate: boolean;
}

/** Feed pipelines by name. */
export type FeedPipelines = Readonly<Record<string, FeedPipeline>>;

/**
 * The built-in sources read the store (a source's read is one round trip, and Redis commands time out after
 * REDIS_COMMAND_TIMEOUT_MS anyway), so these deadlines are headroom for a busy event loop, not for the store: on two
 * loaded cores the first cold requests after start-up (JIT, model warm-up) are slow. A remote source gets its own,
 * tighter timeout.
 */
const SOURCE_TIMEOUT_MS = 800;
const REQUEST_DEADLINE_MS = 1000;

const DIVERSITY: DiversityRule = { window: 10, maxPerCommunity: 3, maxPerDomain: 4 };

export const FEED_PIPELINES = {
  home: {
    name: 'home',
    context: 'none',
    sources: [
      // Every candidate costs the same (hydration, features, 300 trees), and a cold request's latency is about
      // linear in them: enough to fill a session after filters and diversity, and no more.
      { source: 'subscriptions', limit: 1000, timeoutMs: SOURCE_TIMEOUT_MS },
      { source: 'popular', limit: 200, timeoutMs: SOURCE_TIMEOUT_MS },
    ],
    hydration: ['posts', 'communities'],
    filters: ['duplicates', 'nsfw', 'seen', 'blocked'],
    scorer: { defaultRanker: 'lambdamart', signedOutRanker: 'hot' },
    selectors: [{ name: 'diversity', options: DIVERSITY }, { name: 'interleave' }],
    sideEffects: ['shadow-scoring', 'feature-log', 'seen-recording'],
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: true,
  },
  community: {
    name: 'community',
    context: 'community',
    sources: [{ source: 'community', limit: 1000, timeoutMs: SOURCE_TIMEOUT_MS }],
    hydration: ['posts', 'communities'],
    // A viewer who opens a community they blocked asked for it: blocking hides it from the other feeds only.
    filters: ['duplicates', 'nsfw'],
    scorer: { defaultRanker: 'personalized', signedOutRanker: 'hot' },
    // One community by definition: only the domain rule can bind.
    selectors: [{ name: 'diversity', options: { ...DIVERSITY, maxPerCommunity: DIVERSITY.window } }, { name: 'interleave' }],
    sideEffects: ['shadow-scoring', 'feature-log'],
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: false,
  },
  post: {
    name: 'post',
    context: 'post',
    sources: [
      { source: 'same-community', limit: 500, timeoutMs: SOURCE_TIMEOUT_MS },
      { source: 'similar-titles', limit: 300, timeoutMs: SOURCE_TIMEOUT_MS },
    ],
    hydration: ['posts', 'communities'],
    filters: ['duplicates', 'nsfw', 'blocked'],
    scorer: { defaultRanker: 'personalized', signedOutRanker: 'hot' },
    selectors: [{ name: 'interleave' }],
    sideEffects: ['shadow-scoring', 'feature-log'],
    deadlineMs: REQUEST_DEADLINE_MS,
    staleWhileRevalidate: false,
  },
} satisfies FeedPipelines;
