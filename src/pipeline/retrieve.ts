import type { Degradation } from '../cache/scores';
import { FILTERS } from '../filters';
import { HYDRATORS, type Candidate, type CandidateHydrator, type PostHydrator, type RunRequest } from '../features/hydrators';
import type { Loaders } from '../features/loaders';
import type { FeatureInput } from '../features/registry';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import { withSpan } from '../telemetry/tracing';
import type { FeedPipeline } from './feeds';
import { gatherCandidates } from './gather';

/** The hydrated, filtered candidates of one run, and what each stage saw. */
export interface Retrieved {
  readonly inputs: readonly FeatureInput[];
  readonly stats: {
    /** Ids each source returned. */
    readonly retrieved: Readonly<Record<string, number>>;
    /** Fail-open sources that failed or missed their deadline. */
    readonly degraded: readonly Degradation[];
    /** Distinct known candidates: after hydration and the `duplicates` filter. */
    readonly unique: number;
    /** Candidates each candidate filter removed. */
    readonly filtered: Readonly<Record<string, number>>;
  };
}

/**
 * The retrieval half of a pipeline run, in the pipeline's order: sources (src/pipeline/gather.ts), hydrators, then
 * the candidate filters. What any ranker scores; builds use it, and so do comparisons of rankers and training.
 */
export function retrieveCandidates(pipeline: FeedPipeline, req: RunRequest, loaders: Loaders, deps: { store: Store; logger: Logger }, deadlineMs: number): Promise<Retrieved> {
  return withSpan('pipeline.candidates', { 'feed.kind': pipeline.name, 'deadline.ms': deadlineMs }, async (span) => {
    const gathered = await gatherCandidates(pipeline, req, deps, deadlineMs);
    const [first, ...rest] = pipeline.hydration.map((name) => HYDRATORS[name]!);
    const hydrated = await (first as PostHydrator).hydrate(gathered.ids, req, loaders);
    for (const hydrator of rest) await (hydrator as CandidateHydrator).hydrate(hydrated, req, loaders);
    let candidates: readonly Candidate[] = hydrated;
    const filtered: Record<string, number> = {};
    let unique = candidates.length;
    for (const name of pipeline.filters) {
      const filter = FILTERS[name]!;
      if (filter.stage !== 'candidates') continue;
      const before = candidates.length;
      candidates = filter.apply(candidates, { viewer: req.viewer });
      filtered[name] = before - candidates.length;
      if (name === 'duplicates') unique = candidates.length;
    }
    span.setAttributes({ 'candidates.unique': unique, 'candidates.kept': candidates.length, 'sources.degraded': gathered.degraded.length });
    return { inputs: candidates, stats: { retrieved: gathered.retrieved, degraded: gathered.degraded, unique, filtered } };
  });
}
