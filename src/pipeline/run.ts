import { CANDIDATE_SOURCES } from '../candidates';
import type { Community, Post } from '../content';
import { buildFeatureBatch, withFeatureBatch } from '../features/batch';
import type { Loaders } from '../features/loaders';
import type { FeatureInput } from '../features/registry';
import { titleTokens } from '../features/title-tokens';
import type { ViewerProfile } from '../features/viewers';
import { GatewayError } from '../errors';
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

/** How many candidates each stage saw, for logs and the MLE's funnel. */
export interface PipelineStats {
  readonly retrieved: Readonly<Record<string, number>>;
  /** Sources that failed or missed their deadline, and why (fail-open sources only; fail-closed ones fail the request). */
  readonly degraded: readonly { readonly source: string; readonly reason: string }[];
  readonly unique: number;
  readonly filtered: Readonly<Record<string, number>>;
}

/** The hydrated, filtered candidates of one request: what any ranker scores. */
export interface Candidates {
  readonly inputs: readonly FeatureInput[];
  readonly stats: PipelineStats;
}

class SourceTimeout extends Error {
  override readonly name = 'SourceTimeout';
}

/**
 * Resolves with `work`, or rejects with SourceTimeout after `ms` (aborting `controller` so I/O can stop).
 *
 * When the timer fires, replies may already be waiting in a socket that a busy event loop has not read yet (timers
 * run before I/O in each loop turn): the source is given that one I/O phase (setImmediate runs after it) before it
 * counts as late, so a gateway busy ranking other requests does not blame its sources for its own lag.
 */
function underDeadline<T>(work: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const running = work(controller.signal).finally(() => (settled = true));
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        const err = new SourceTimeout(`missed its deadline of ${ms} ms`);
        controller.abort(err);
        reject(err);
      });
    }, ms);
  });
  return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The retrieval half of a feed pipeline: scatter to the candidate sources in parallel, each under its own budget
 * and deadline (never past the request's), gather and de-duplicate, hydrate the posts through the request's
 * DataLoaders (one batch), filter, and hydrate the communities (one batch).
 *
 * A failing or late source contributes nothing and is reported in `stats.degraded` (fail open), unless its step is
 * fail-closed: then the request fails with SERVICE_UNAVAILABLE. When every source fails the request fails too,
 * since an empty feed would hide an outage.
 */
export function gatherCandidates(req: CandidateRequest, deps: PipelineDeps, deadlineMs: number = req.pipeline.deadlineMs): Promise<Candidates> {
  const { pipeline } = req;
  return withSpan('pipeline.candidates', { 'feed.kind': pipeline.kind, 'deadline.ms': deadlineMs }, async (span) => {
    const started = Date.now();
    const steps = pipeline.sources.map((step) => {
      const source = typeof step.source === 'string' ? CANDIDATE_SOURCES[step.source] : step.source;
      if (!source) throw new Error(`feed "${pipeline.kind}" names unknown candidate source "${String(step.source)}"`);
      return { step, source };
    });
    const results = await Promise.allSettled(
      steps.map(({ step, source }) =>
        withSpan(`candidates.${source.name}`, { 'candidates.limit': step.limit }, async (s) => {
          const budget = Math.max(1, Math.min(step.timeoutMs, deadlineMs - (Date.now() - started)));
          try {
            const ids = await underDeadline((signal) => source.fetch(req, deps.store, step.limit, signal), budget);
            s.setAttributes({ 'candidates.count': ids.length, 'candidates.outcome': 'ok' });
            // A source past its limit is cut to it; one within it is used as it is (no copy of ~1,000 ids).
            return ids.length > step.limit ? ids.slice(0, step.limit) : ids;
          } catch (err) {
            s.setAttribute('candidates.outcome', err instanceof SourceTimeout ? 'timeout' : 'error');
            throw err;
          }
        }),
      ),
    );
    const retrieved: Record<string, number> = {};
    const degraded: { source: string; reason: string }[] = [];
    const seen = new Set<string>();
    const candidateIds: string[] = [];
    let firstError: unknown = null;
    results.forEach((r, i) => {
      const { step, source } = steps[i]!;
      if (r.status === 'rejected') {
        const reason = r.reason instanceof SourceTimeout ? r.reason.message : `failed: ${String((r.reason as Error)?.message ?? r.reason).slice(0, 200)}`;
        deps.logger.warn({ source: source.name, reason }, step.failClosed ? 'fail-closed candidate source failed' : 'candidate source failed; serving without it');
        if (step.failClosed) {
          throw new GatewayError('SERVICE_UNAVAILABLE', `Candidate source "${source.name}" ${reason}, and the feed cannot be served without it.`, { source: source.name });
        }
        firstError ??= r.reason;
        degraded.push({ source: source.name, reason });
        return;
      }
      retrieved[source.name] = r.value.length;
      for (const id of r.value) if (!seen.has(id)) (seen.add(id), candidateIds.push(id));
    });
    if (degraded.length === steps.length && firstError) {
      throw new GatewayError('SERVICE_UNAVAILABLE', `Every candidate source of the ${pipeline.kind} feed failed (${degraded.map((d) => `${d.source}: ${d.reason}`).join('; ')}).`);
    }

    const posts = await withSpan('features.hydrate', { 'candidates.count': candidateIds.length }, async () => {
      const loaded = await deps.loaders.hydratePosts(candidateIds);
      const out: Post[] = [];
      for (const p of loaded) if (p) out.push(p);
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
    span.setAttributes({ 'candidates.unique': candidateIds.length, 'candidates.kept': inputs.length, 'sources.degraded': degraded.length });
    return { inputs, stats: { retrieved, degraded, unique: candidateIds.length, filtered } };
  });
}

/** What the feature registry computes features from, for each post: communities are read in one batch. */
export async function featureInputs(
  posts: readonly Post[],
  req: { viewer: ViewerProfile | null; contextPost: Post | null },
  loaders: Loaders,
): Promise<FeatureInput[]> {
  const distinct = new Set<string>();
  for (const p of posts) distinct.add(p.community);
  const names = [...distinct];
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
    // The batch lives only while the ranker scores it: its buffer is reused by the next request.
    return withFeatureBatch(ranker.features, inputs, async (batch: FeatureBatch) => {
      const raw = await ranker.score(batch, { signal });
      if (raw.length !== batch.rows) throw new Error(`ranker "${ranker.id}" returned ${raw.length} scores for ${batch.rows} rows`);
      // A loop: `Float64Array.from` with a mapping function goes through the iterator protocol, an object per row.
      const scores = new Float64Array(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i]!;
        scores[i] = Number.isFinite(v) ? v : -Number.MAX_VALUE;
      }
      return scores;
    });
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
  // The comparator returns -1, 0 or 1 (small integers): returning the score difference, a double, made V8 box a
  // number per comparison, ~16,000 of them (~250 KB) per cold home request.
  order.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa !== sb) return sb > sa ? 1 : -1;
    const ia = inputs[a]!.post.id;
    const ib = inputs[b]!.post.id;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  });
  return order;
}
