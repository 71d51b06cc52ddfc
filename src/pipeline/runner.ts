import { context as otelContext, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Viewer } from '../auth/tokens';
import { ScoreCache, type Degradation, type ScoredList } from '../cache/scores';
import type { SingleFlight } from '../cache/single-flight';
import { SnapshotCache, type Snapshot } from '../cache/snapshots';
import type { Post } from '../content';
import { withDeadline } from '../deadline';
import { FILTERS, type SessionFilter } from '../filters';
import type { RunRequest } from '../features/hydrators';
import type { Loaders } from '../features/loaders';
import type { RankingPlan } from '../rankers/plan';
import type { RankerRegistry } from '../rankers/registry';
import { SELECTORS, type Selection } from '../selectors';
import { SIDE_EFFECTS, type ScoredEvent, type ServedEdge, type ServedEvent, type SideEffect } from '../side-effects';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import { withSpan } from '../telemetry/tracing';
import type { FeedPipeline, FeedPipelines } from './feeds';
import { explainEdges } from './explain';
import { retrieveCandidates, type Retrieved } from './retrieve';
import { scoreWithPlan } from './scorer';
import { validatePipelines } from './validate';

/** A list served by a fallback, or built without a source, is cached this briefly so the real thing is tried again soon. */
export const SHORT_TTL_SECONDS = 10;

/** Everything that decides one request's ranking: what the feed service resolved, handed to the runner whole. */
export interface RunJob {
  /** The request's snapshot key (also its scores' and its single-flight key). */
  readonly key: string;
  readonly pipeline: FeedPipeline;
  readonly plan: RankingPlan;
  /** The verified viewer, or null when signed out. */
  readonly viewer: Viewer | null;
  readonly community: string | null;
  readonly contextPost: Post | null;
  readonly loaders: Loaders;
  readonly deadlineMs: number;
  /** A fresh session was asked for: it does not join a running one of the same key. */
  readonly refresh: boolean;
  readonly requestId: string;
}

/** Reads started with the session lookup, so a new session needs no further round trip for them. */
export interface Prefetch {
  readonly scores: Promise<ScoredList | null>;
  readonly state: Promise<SessionState>;
}

/** What each session filter read of the viewer (absent: nothing to filter), and the filters that could not read. */
interface SessionState {
  readonly values: ReadonlyMap<string, unknown>;
  readonly degraded: readonly Degradation[];
}

export interface RunnerOptions {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly pipelines: FeedPipelines;
  readonly snapshots: SnapshotCache;
  readonly flights: SingleFlight;
  readonly snapshotTtlSeconds: number;
  readonly snapshotMaxItems: number;
}

/**
 * Runs feed pipelines: every stage a pipeline names, in order, under one deadline implementation (src/deadline.ts).
 *
 *   build (cached per request key as a ScoredList):  sources -> hydration -> candidate filters -> scorer
 *   session (frozen as a Snapshot, paged by cursors): session filters -> selectors
 *   side effects:  `scored` after a build's answer, `served` as each page is cut
 *
 * Identical concurrent builds and sessions are shared (single flight); a scored list past its TTL is served while
 * it is re-ranked in the background when the feed allows it (stale-while-revalidate).
 */
export class PipelineRunner {
  private readonly scores: ScoreCache;
  /** Side effects still running, so tests and shutdown can wait for them. */
  private readonly effects = new Set<Promise<void>>();

  constructor(private readonly opts: RunnerOptions) {
    validatePipelines(opts.pipelines, opts.rankers);
    this.scores = new ScoreCache(opts.store);
  }

  pipeline(name: string): FeedPipeline | undefined {
    return Object.hasOwn(this.opts.pipelines, name) ? this.opts.pipelines[name] : undefined;
  }

  /** Starts the reads a new session would need, in the same tick as the caller's session lookup (one round trip). */
  prefetch(job: RunJob): Prefetch {
    const scores = this.scores.get(job.key);
    scores.catch(() => {});
    return { scores, state: this.readSessionState(job) };
  }

  /**
   * A new session of a feed: the (cached) scored list, minus what the session filters remove, shaped by the
   * selectors, frozen as the snapshot every page of the session is cut from, and stored. Identical concurrent
   * requests share one.
   */
  session(job: RunJob, prefetch: Prefetch): Promise<Snapshot> {
    return this.opts.flights.run(`session:${job.key}:${job.refresh ? 'refresh' : ''}`, (wrote) =>
      withSpan('feed.session', { 'feed.kind': job.pipeline.name }, async (span) => {
        const scored = await this.scored(job, prefetch.scores);
        const state = await prefetch.state;
        const snapshot = this.select(job, scored, state);
        span.setAttributes({ 'ranker.id': snapshot.servedBy, 'ranker.fallback_from': snapshot.fallbackFrom ?? '', 'session.items': snapshot.ids.length });
        const shortLived = snapshot.fallbackFrom !== null || snapshot.degraded.length > 0;
        // Not awaited: the write joins the round trip that records the page as seen (same tick), and a later request
        // for the next page reads it back on the same connection, after it.
        wrote(
          this.opts.snapshots.put(job.key, snapshot, shortLived ? SHORT_TTL_SECONDS : undefined).catch((err: unknown) =>
            this.opts.logger.warn({ err: (err as Error)?.message }, 'could not store the session snapshot'),
          ),
        );
        return snapshot;
      }),
    );
  }

  /** Starts the pipeline's `served` side effects for a page just cut; the answer does not wait for them. */
  served(job: RunJob, snapshot: Snapshot, edges: readonly ServedEdge[]): void {
    const event: ServedEvent = {
      feed: job.pipeline.name,
      requestId: job.requestId,
      viewer: job.viewer,
      contextPost: job.contextPost,
      edges,
      servedBy: snapshot.servedBy,
      servedByVersion: snapshot.servedByVersion,
      loaders: job.loaders,
    };
    for (const effect of this.effectsOf(job.pipeline, 'served')) this.track(effect, (signal) => effect.run(event, this.opts, signal));
  }

  /** Why each edge of a page ranks where it does (src/pipeline/explain.ts), as the page's request saw it. */
  async explain(job: RunJob, snapshot: Snapshot, edges: readonly { readonly postId: string; readonly contributedBy: string | null }[]) {
    const viewer = job.viewer ? await job.loaders.viewers.load(job.viewer.userId) : null;
    return explainEdges(edges, snapshot.servedBy, { viewer, community: job.community, contextPost: job.contextPost }, this.opts.rankers, job.loaders);
  }

  /** The retrieval half of a run (src/pipeline/retrieve.ts): gathered, hydrated and filtered candidates. */
  candidates(pipeline: FeedPipeline, req: RunRequest, loaders: Loaders, deadlineMs: number): Promise<Retrieved> {
    return retrieveCandidates(pipeline, req, loaders, this.opts, deadlineMs);
  }

  /** Resolves once every side effect and every build and session started so far has finished (and been stored). */
  async idle(): Promise<void> {
    while (this.effects.size > 0) await Promise.allSettled([...this.effects]);
    await this.opts.flights.idle();
  }

  /** The scored list for a job: cached, served stale while a fresh one is built when the feed allows it. */
  private async scored(job: RunJob, prefetched: Promise<ScoredList | null>): Promise<ScoredList> {
    const cached = await prefetched;
    if (cached) {
      const age = Date.now() - cached.createdAt;
      if (age < this.opts.snapshotTtlSeconds * 1000) return cached;
      if (job.pipeline.staleWhileRevalidate) {
        // Stale: answer now, re-rank in the background (once, however many requests see it stale).
        void this.build(job).catch((err: unknown) => this.opts.logger.warn({ err: (err as Error)?.message }, 'background re-ranking failed; the stale list keeps serving'));
        return cached;
      }
    }
    return this.build(job);
  }

  /** Retrieval and scoring: one build per key at a time (single flight). Counted in ranking_builds_total. */
  private build(job: RunJob): Promise<ScoredList> {
    const { key, pipeline, plan, loaders } = job;
    return this.opts.flights.run(`build:${key}`, (wrote) =>
      withSpan('feed.build', { 'feed.kind': pipeline.name, 'ranking.plan': plan.kind }, async (span) => {
        this.opts.metrics.rankings.inc({ feed: pipeline.name });
        const viewer = job.viewer ? await loaders.viewers.load(job.viewer.userId) : null;
        const { inputs, stats } = await this.candidates(pipeline, { viewer, community: job.community, contextPost: job.contextPost }, loaders, job.deadlineMs);
        const { list, shadowed } = await scoreWithPlan(plan, inputs, this.opts, this.opts.snapshotMaxItems * 2);
        const result: ScoredList = {
          ...list,
          createdAt: Date.now(),
          degraded: stats.degraded,
          funnel: { retrieved: stats.retrieved, unique: stats.unique, filtered: stats.filtered, scored: inputs.length },
        };
        if (shadowed) this.scoredEffects(pipeline, { feed: pipeline.name, ...shadowed, inputs });
        span.setAttributes({ 'ranker.id': result.servedBy, 'ranker.fallback_from': result.fallbackFrom ?? '', 'ranked.count': result.ids.length });
        const ttl =
          result.fallbackFrom || result.degraded.length > 0 ? SHORT_TTL_SECONDS : this.opts.snapshotTtlSeconds * (pipeline.staleWhileRevalidate ? 2 : 1);
        // Not awaited: it joins the next batch of writes; the flight covers this process until then.
        wrote(this.scores.put(key, result, ttl).catch((err: unknown) => this.opts.logger.warn({ err: (err as Error)?.message }, 'could not cache the scored list')));
        this.opts.logger.debug({ feed: pipeline.name, ranking: plan.label, stats, items: result.ids.length }, 'ranked feed');
        return result;
      }),
    );
  }

  /** The session stages: session filters, then selectors, over the scored list; then the served scores. */
  private select(job: RunJob, scored: ScoredList, state: SessionState): Snapshot {
    let order = scored.ids.map((_, i) => i);
    const requestFiltered: Record<string, number> = {};
    for (const [name, value] of state.values) {
      const filter = FILTERS[name] as SessionFilter;
      const before = order.length;
      order = order.filter((i) => filter.keep(scored, i, value));
      requestFiltered[name] = before - order.length;
    }
    let selection: Selection = { order, teams: null, scores: 'ranker', dropped: {} };
    const ctx = { plan: job.plan, key: job.key, maxItems: this.opts.snapshotMaxItems };
    for (const step of job.pipeline.selectors) selection = SELECTORS[step.name]!.select(scored, selection, ctx, step.options);
    const keep = selection.order.slice(0, this.opts.snapshotMaxItems);
    // Edges promise non-increasing scores: a capped score is never above the one before it (equal to the ranker's
    // whenever nothing was moved up past it); interleaved edges carry their position from the bottom.
    let cap = Infinity;
    const scores = keep.map((i, n) => {
      if (selection.scores === 'positions') return keep.length - n;
      const v = selection.scores === 'capped' ? Math.min(cap, scored.scores[i]!) : scored.scores[i]!;
      cap = v;
      return v;
    });
    return {
      generation: SnapshotCache.newGeneration(),
      createdAt: Date.now(),
      servedBy: scored.servedBy,
      servedByVersion: scored.servedByVersion,
      fallbackFrom: scored.fallbackFrom,
      fallbackReason: scored.fallbackReason,
      ids: keep.map((i) => scored.ids[i]!),
      scores,
      teams: selection.teams ? selection.teams.slice(0, keep.length) : null,
      degraded: [...scored.degraded, ...state.degraded],
      funnel: { ...scored.funnel, requestFiltered, diversityDropped: selection.dropped.diversity ?? 0, ranked: keep.length },
    };
  }

  /**
   * What the session filters need of a signed-in viewer. Never rejects: a filter whose read fails (or a store that
   * says it is degraded) serves without that filter, and says so.
   */
  private async readSessionState(job: RunJob): Promise<SessionState> {
    const values = new Map<string, unknown>();
    const degraded: Degradation[] = [];
    if (!job.viewer) return { values, degraded };
    const userId = job.viewer.userId;
    const filters = job.pipeline.filters.map((name) => FILTERS[name]!).filter((f): f is SessionFilter => f.stage === 'session');
    const reads = await Promise.allSettled(filters.map((f) => f.read(userId, this.opts.store.viewers)));
    reads.forEach((r, i) => {
      const name = filters[i]!.name;
      if (r.status === 'fulfilled') values.set(name, r.value);
      else {
        // The store's errors carry why (`reason`); their message is for a client.
        const why = (r.reason as { reason?: unknown })?.reason ?? (r.reason as Error)?.message;
        degraded.push({ source: `${name}-filter`, reason: `viewer state unavailable: ${String(why)}`.slice(0, 200) });
      }
    });
    return { values, degraded };
  }

  private scoredEffects(pipeline: FeedPipeline, event: ScoredEvent): void {
    for (const effect of this.effectsOf(pipeline, 'scored')) {
      // After the answer, off the request's trace: a root span of its own.
      this.track(effect, (signal) =>
        new Promise<void>((resolve) => setImmediate(resolve)).then(() => otelContext.with(ROOT_CONTEXT, () => effect.run(event, this.opts, signal))),
      );
    }
  }

  private effectsOf<On extends SideEffect['on']>(pipeline: FeedPipeline, on: On): Extract<SideEffect, { on: On }>[] {
    return pipeline.sideEffects.map((name) => SIDE_EFFECTS[name]!).filter((e): e is Extract<SideEffect, { on: On }> => e.on === on);
  }

  /** Runs a side effect under its deadline; a failure only logs. */
  private track(effect: SideEffect, run: (signal: AbortSignal) => Promise<void>): void {
    const task = withDeadline(run, effect.timeoutMs)
      .catch((err: unknown) => this.opts.logger.warn({ sideEffect: effect.name, err: (err as Error)?.message }, 'side effect failed'))
      .finally(() => this.effects.delete(task));
    this.effects.add(task);
  }
}
