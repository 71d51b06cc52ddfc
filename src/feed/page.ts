import type { Viewer } from '../auth/tokens';
import type { Degradation } from '../cache/scores';
import type { EdgeExplanation } from '../pipeline/explain';
import type { ExperimentAssignment } from '../rankers/experiments';
import type { Ranker } from '../rankers/ranker';

/** The context of a contextual feed: a community or a post. */
export type FeedContext = { readonly community: string } | { readonly post: string };

/** One feed request, as a resolver hands it to the feed service. */
export interface FeedRequest {
  /** The feed's pipeline name (src/pipeline/feeds.ts). */
  readonly feed: string;
  /** The verified viewer, or null when signed out. */
  readonly viewer: Viewer | null;
  readonly context: FeedContext | null;
  readonly first: number;
  readonly after: string | null;
  /** The requested ranker id (or "interleave:A,B"); null for the feed's default or experiment. */
  readonly ranker: string | null;
  /** A smaller retrieval deadline than the feed's, in ms; null for the feed's own. */
  readonly deadlineMs?: number | null;
  /** Start a fresh session (leaving out what was already shown) instead of continuing the current one. */
  readonly refresh?: boolean;
  /** The request's id, for the feature log. */
  readonly requestId?: string;
}

/** What each stage saw, for the MLE's funnel. */
export interface Funnel {
  readonly retrieved: Readonly<Record<string, number>>;
  readonly unique: number;
  readonly filtered: Readonly<Record<string, number>>;
  readonly scored: number;
  readonly requestFiltered: Readonly<Record<string, number>>;
  readonly diversityDropped: number;
  /** Items in the session's ranked list. */
  readonly ranked: number;
  /** Edges on this page. */
  readonly returned: number;
}

export interface FeedEdgeData {
  readonly postId: string;
  readonly score: number;
  /** 1-based position in the ranked list. */
  readonly rank: number;
  readonly cursor: string;
  /** For an interleaved feed: the ranker that contributed this item. */
  readonly contributedBy: string | null;
}

/** What ranked a feed, as `rankedBy` reports it. */
export interface RankedBy {
  /** The ranker that ranked the list (for an interleaved list, a descriptor of the pair). */
  readonly ranker: Pick<Ranker, 'id' | 'version' | 'description' | 'features'>;
  readonly experiment: ExperimentAssignment | null;
  /** Set when the requested variant failed and its fallback (`ranker`) served instead. */
  readonly fallbackFrom: string | null;
  readonly fallbackReason: string | null;
}

/** A page's session: the snapshot's key and generation, when it stops serving, and the exposure it counted. */
export interface PageSession {
  readonly key: string;
  readonly generation: string;
  /** Milliseconds since the epoch when the snapshot expires from the cache. */
  readonly expiresAt: number;
  /** The content the session was ranked over: a reseed with other content makes it stale. */
  readonly fingerprint: string;
  readonly exposure: { readonly experiment: string; readonly arm: string; readonly ranker: string } | null;
}

export interface FeedPage {
  readonly edges: readonly FeedEdgeData[];
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
  readonly rankedBy: RankedBy;
  /** Total items in the snapshot this page was cut from. */
  readonly totalCount: number;
  /** Whether the ranked list came from the snapshot cache. */
  readonly cached: boolean;
  /** Sources (or filters) that failed or timed out: the answer is served without them. */
  readonly degraded: readonly Degradation[];
  readonly funnel: Funnel;
  /** Explanations of this page's edges, computed on first use (one batch for the whole page), by post id. */
  explain(): Promise<ReadonlyMap<string, EdgeExplanation>>;
  /**
   * The session this page was cut from, for a replayed response (src/http/replay.ts) to depend on; null when the
   * page must not be replayed (a fallback or degraded list, kept only briefly).
   */
  readonly session: PageSession | null;
}
