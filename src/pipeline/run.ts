import { CANDIDATE_SOURCES } from '../candidates';
import type { Post } from '../content';
import { buildFeatureBatch } from '../features/batch';
import type { Loaders } from '../features/loaders';
import type { FeatureInput } from '../features/registry';
import { titleTokens } from '../features/title-tokens';
import type { ViewerProfile } from '../features/viewers';
import { FILTERS } from '../filters';
import type { Ranker } from '../rankers/ranker';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import { withSpan } from '../telemetry/tracing';
import type { FeedPipeline } from './feeds';

export interface PipelineRequest {
  readonly pipeline: FeedPipeline;
  readonly ranker: Ranker;
  readonly viewer: ViewerProfile | null;
  readonly community: string | null;
  readonly contextPost: Post | null;
  /** Keep at most this many ranked items. */
  readonly maxItems: number;
}

export interface PipelineDeps {
  readonly store: Store;
  readonly loaders: Loaders;
  readonly logger: Logger;
}

/** How many candidates each stage saw, for logs and (later) the MLE's funnel. */
export interface PipelineStats {
  readonly retrieved: Readonly<Record<string, number>>;
  readonly failedSources: readonly string[];
  readonly unique: number;
  readonly filtered: Readonly<Record<string, number>>;
  readonly scored: number;
}

/** A ranked list: ids and scores in rank order (score non-increasing). */
export interface RankedList {
  readonly ids: string[];
  readonly scores: number[];
  readonly stats: PipelineStats;
}

/**
 * Runs one feed pipeline: scatter to the candidate sources in parallel, gather and de-duplicate, hydrate the posts
 * through the request's DataLoaders (one batch), filter, build the ranker's feature rows, score, and sort.
 *
 * A failing source contributes nothing (fail open) and is logged; when every source fails the request fails with
 * the first error, since an empty feed would hide an outage.
 */
export function runPipeline(req: PipelineRequest, deps: PipelineDeps): Promise<RankedList> {
  const { pipeline, ranker } = req;
  return withSpan('pipeline.run', { 'feed.kind': pipeline.kind, 'ranker.id': ranker.id, 'ranker.version': ranker.version }, async (span) => {
    // 1. Scatter / gather.
    const results = await Promise.allSettled(
      pipeline.sources.map((step) => {
        const source = CANDIDATE_SOURCES[step.source];
        if (!source) throw new Error(`feed "${pipeline.kind}" names unknown candidate source "${step.source}"`);
        return withSpan(`candidates.${source.name}`, { 'candidates.limit': step.limit }, async (s) => {
          const ids = await source.fetch(req, deps.store, step.limit);
          s.setAttribute('candidates.count', ids.length);
          return ids;
        });
      }),
    );
    const retrieved: Record<string, number> = {};
    const failedSources: string[] = [];
    const seen = new Set<string>();
    const candidateIds: string[] = [];
    let firstError: unknown = null;
    results.forEach((r, i) => {
      const name = pipeline.sources[i]!.source;
      if (r.status === 'rejected') {
        failedSources.push(name);
        firstError ??= r.reason;
        deps.logger.warn({ source: name, err: r.reason }, 'candidate source failed; serving without it');
        return;
      }
      retrieved[name] = r.value.length;
      for (const id of r.value) if (!seen.has(id)) (seen.add(id), candidateIds.push(id));
    });
    if (failedSources.length === pipeline.sources.length && firstError) throw firstError;

    // 2. Hydrate posts: one batch for all candidates.
    const posts = await withSpan('features.hydrate', { 'candidates.count': candidateIds.length }, async () => {
      const loaded = await deps.loaders.posts.loadMany(candidateIds);
      const out: Post[] = [];
      for (const p of loaded) {
        if (p instanceof Error) throw p;
        if (p) out.push(p);
      }
      return out;
    });

    // 3. Filter.
    const filtered: Record<string, number> = {};
    let kept = posts;
    for (const name of pipeline.filters) {
      const filter = FILTERS[name];
      if (!filter) throw new Error(`feed "${pipeline.kind}" names unknown filter "${name}"`);
      const before = kept.length;
      kept = kept.filter((p) => filter.keep(p, { viewer: req.viewer }));
      filtered[name] = before - kept.length;
    }

    // 4. Features for the ranker's declared columns. Communities come in one batch too.
    const communityNames = [...new Set(kept.map((p) => p.community))];
    const communities = new Map<string, Awaited<ReturnType<Loaders['communities']['load']>>>();
    const loadedCommunities = await deps.loaders.communities.loadMany(communityNames);
    loadedCommunities.forEach((c, i) => communities.set(communityNames[i]!, c instanceof Error ? null : c));
    const contextTokens = req.contextPost ? new Set(titleTokens(req.contextPost.title)) : null;
    const inputs: FeatureInput[] = kept.map((post) => ({ post, community: communities.get(post.community) ?? null, viewer: req.viewer, contextTokens }));
    const batch = buildFeatureBatch(ranker.features, inputs);

    // 5. Score and sort.
    const raw = await withSpan('rank.score', { 'ranker.id': ranker.id, 'batch.rows': batch.rows }, () => ranker.score(batch));
    if (raw.length !== batch.rows) {
      throw new Error(`ranker "${ranker.id}" returned ${raw.length} scores for ${batch.rows} rows`);
    }
    // A NaN would make the sort inconsistent and cannot be sent as a GraphQL Float: rank it last instead.
    const scores = Float64Array.from(raw, (v) => (Number.isFinite(v) ? v : -Number.MAX_VALUE));
    const order = kept.map((_, i) => i);
    // Ties break by id so the same input always ranks the same way, whichever backend served it.
    order.sort((a, b) => scores[b]! - scores[a]! || (kept[a]!.id < kept[b]!.id ? -1 : kept[a]!.id > kept[b]!.id ? 1 : 0));
    const top = order.slice(0, req.maxItems);
    const stats: PipelineStats = { retrieved, failedSources, unique: candidateIds.length, filtered, scored: batch.rows };
    span.setAttributes({ 'candidates.unique': candidateIds.length, 'candidates.scored': batch.rows, 'ranked.count': top.length });
    return { ids: top.map((i) => kept[i]!.id), scores: top.map((i) => scores[i]!), stats };
  });
}
