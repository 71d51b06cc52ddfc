import type { Viewer } from '../auth/tokens';
import type { Loaders } from '../features/loaders';
import type { FeatureInput } from '../features/registry';
import type { Post } from '../content';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

/** What a side effect may use. */
export interface SideEffectDeps {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** A build scored its candidates with the plan's ranker (not a fallback, not an interleaving). */
export interface ScoredEvent {
  readonly feed: string;
  readonly ranker: Ranker;
  readonly inputs: readonly FeatureInput[];
  /** `scores[i]` is the score of `inputs[i]`. */
  readonly scores: Float64Array;
}

/** One edge of a page that was served. */
export interface ServedEdge {
  readonly postId: string;
  /** 1-based position in the ranked list. */
  readonly rank: number;
  readonly score: number;
  /** For an interleaved list: the ranker that placed it. */
  readonly contributedBy: string | null;
}

/** A page was cut and is on its way to the client. */
export interface ServedEvent {
  readonly feed: string;
  readonly requestId: string;
  /** The signed-in viewer, or null. */
  readonly viewer: Viewer | null;
  readonly contextPost: Post | null;
  readonly edges: readonly ServedEdge[];
  /** The ranker that ranked the list, and its version. */
  readonly servedBy: string;
  readonly servedByVersion: string;
  readonly loaders: Loaders;
}

/**
 * A side effect does work a pipeline's answer does not wait for: it never changes the answer, and its failure only
 * logs and counts. To add one: copy `seen-recording.ts`, register it in `index.ts` and name it in a feed pipeline's
 * `sideEffects`.
 *
 * When it runs: `scored` once a build has scored its candidates (after the answer has gone: it runs off the
 * request's trace, in a root span of its own); `served` as a page is cut (started at once, so its writes join the
 * page's round trip to the store). The pipeline bounds each run by `timeoutMs`.
 */
export type SideEffect =
  | { readonly name: string; readonly on: 'scored'; readonly timeoutMs: number; run(event: ScoredEvent, deps: SideEffectDeps, signal: AbortSignal): Promise<void> }
  | { readonly name: string; readonly on: 'served'; readonly timeoutMs: number; run(event: ServedEvent, deps: SideEffectDeps, signal: AbortSignal): Promise<void> };
