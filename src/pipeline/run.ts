import { CANDIDATE_SOURCES } from '../candidates';
import type { Community, Post } from '../content';
import { buildFeatureBatch } from '../features/batch';
import type { Loaders } from '../features/loaders';
import type { FeatureInput } from '../features/registry';
import { titleTokens } from '../features/title-tokens';
import type { ViewerProfile } from '../features/viewers';
import { FILTERS } from '../filters';
import type { Explanation, FeatureBatch, Ranker } from '../rankers/ranker';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import { withSpan } from '../telemetry/tracing';
import type { FeedPipeline } from './feeds';

export interface CandidateRequest {
  readonly pipeline: FeedPipeline;
  readonly viewer: ViewerProfile | null;
  readonly community: string | null;
  readonly contextPost: Post | null;
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
}

/** The hydrated, filtered candidates of one request: what any ranker scores. */
export interface Candidates {
  readonly inputs: readonly FeatureInput[];
  readonly stats: PipelineStats;
}

/**
 * The retrieval half of a feed pipeline: scatter to the candidate sources in parallel, gather and de-duplicate,
 * hydrate the posts through the request's DataLoaders (one batch), filter, and hydrate the communities (one batch).
 *
 * A failing source contributes nothing (fail open) and is logged; when every source fails the request fails with
 * the first error, since an empty feed would hide an outage.
 */
export function gatherCandidates(req: CandidateRequest, deps: PipelineDeps): Promise<Candidates> {
  const { pipeline } = req;
  return withSpan('pipeline.candidates', { 'feed.kind': pipeline.kind }, async (span) => {
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

    const posts = await withSpan('features.hydrate', { 'candidates.count': candidateIds.length }, async () => {
      const loaded = await deps.loaders.posts.loadMany(candidateIds);
      const out: Post[] = [];
      for (const p of loaded) {
        if (p instanceof Error) throw p;
        if (p) out.push(p);
      }
      return out;
    });

    const filtered: Record<string, number> = {};
    let kept = posts;
    for (const name of pipeline.filters) {
      const filter = FILTERS[name];
      if (!filter) throw new Error(`feed "${pipeline.kind}" names unknown filter "${name}"`);
      const before = kept.length;
      kept = kept.filter((p) => filter.keep(p, { viewer: req.viewer }));
      filtered[name] = before - kept.length;
    }

    const inputs = await featureInputs(kept, req, deps.loaders);
    span.setAttributes({ 'candidates.unique': candidateIds.length, 'candidates.kept': inputs.length });
    return { inputs, stats: { retrieved, failedSources, unique: candidateIds.length, filtered } };
  });
}

/** What the feature registry computes features from, for each post: communities are read in one batch. */
export async function featureInputs(
  posts: readonly Post[],
  req: { viewer: ViewerProfile | null; contextPost: Post | null },
  loaders: Loaders,
): Promise<FeatureInput[]> {
  const names = [...new Set(posts.map((p) => p.community))];
  const loaded = await loaders.communities.loadMany(names);
  const communities = new Map<string, Community | null>();
  loaded.forEach((c, i) => communities.set(names[i]!, c instanceof Error ? null : c));
  const contextTokens = req.contextPost ? new Set(titleTokens(req.contextPost.title)) : null;
  const contextCommunity = req.contextPost?.community ?? null;
  return posts.map((post) => ({ post, community: communities.get(post.community) ?? null, viewer: req.viewer, contextTokens, contextCommunity }));
}

/**
 * Scores candidates with one ranker: builds exactly the columns it declares and checks the batch contract.
 * Non-finite scores are ranked last (a NaN would make the sort inconsistent and is not a GraphQL Float).
 */
export function scoreCandidates(ranker: Ranker, inputs: readonly FeatureInput[], signal?: AbortSignal): Promise<Float64Array> {
  return withSpan('rank.score', { 'ranker.id': ranker.id, 'ranker.version': ranker.version, 'batch.rows': inputs.length }, async () => {
    const batch: FeatureBatch = buildFeatureBatch(ranker.features, inputs);
    const raw = await ranker.score(batch, { signal });
    if (raw.length !== batch.rows) throw new Error(`ranker "${ranker.id}" returned ${raw.length} scores for ${batch.rows} rows`);
    return Float64Array.from(raw, (v) => (Number.isFinite(v) ? v : -Number.MAX_VALUE));
  });
}

/** Explains candidates with one ranker (its declared features' values and contributions), or null if it cannot. */
export async function explainCandidates(ranker: Ranker, inputs: readonly FeatureInput[]): Promise<{ batch: FeatureBatch; explanation: Explanation | null }> {
  const batch = buildFeatureBatch(ranker.features, inputs);
  const explanation = ranker.explain ? await ranker.explain(batch) : null;
  return { batch, explanation };
}

/** Candidate indices in rank order: score descending, ties by post id so every backend ranks identically. */
export function rankOrder(inputs: readonly FeatureInput[], scores: Float64Array): number[] {
  const order = inputs.map((_, i) => i);
  order.sort((a, b) => {
    const d = scores[b]! - scores[a]!;
    if (d !== 0) return d;
    const ia = inputs[a]!.post.id;
    const ib = inputs[b]!.post.id;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  });
  return order;
}
