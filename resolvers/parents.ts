import type { FeedEdgeData, FeedPage } from '../src/feed/page';

/**
 * The objects resolvers hand down as the parents of schema types that have no record of their own in src/ (GraphQL
 * Code Generator's mappers, codegen.ts, point here). Types only: the generated types import this file.
 */

/** A feed edge as resolvers see it: the edge and the page it belongs to (for explanations). */
export type EdgeParent = FeedEdgeData & { readonly page: FeedPage };

/** A ranker's top item of a comparison, as `RankedItem` resolves it. */
export interface RankedPost {
  readonly postId: string;
  readonly rank: number;
  readonly score: number;
}

/** One post's ranks under two rankers, as `RankShift` resolves it. */
export interface ShiftedPost {
  readonly postId: string;
  readonly rankA: number;
  readonly rankB: number;
  readonly shift: number;
}

/** The GraphQL `Ranker` shape, built from a configured variant, a feed's rankedBy, or a bare ranker. */
export interface RankerView {
  id: string;
  version: string | null;
  description: string;
  features: readonly string[];
  kind: string | null;
  public: boolean;
  status: 'LOADED' | 'STALE' | 'FAILED' | 'VIRTUAL';
  loadedAt: Date | null;
  lastError: string | null;
  fallback: string | null;
  shadows: readonly string[];
  experiment: string | null;
  bucket: string | null;
  fallbackFrom: string | null;
  fallbackReason: string | null;
}
