import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { context as otelContext, ROOT_CONTEXT } from '@opentelemetry/api';
import { ROLE_MLE, type Viewer } from '../auth/tokens';
import { ScoreCache, type Degradation, type ScoredList } from '../cache/scores';
import { SnapshotCache, type Snapshot } from '../cache/snapshots';
import type { ViewerState } from '../filters/viewer-state';
import { buildFeatureBatch } from '../features/batch';
import { FEATURES, type FeatureInput } from '../features/registry';
import type { FeatureLog } from '../mle/feature-log';
import { diversifyBy } from '../selectors/diversity';
import type { Post } from '../content';
import { GatewayError } from '../errors';
import type { Loaders } from '../features/loaders';
import { seededRandom } from '../features/viewers';
import { experimentFor, type ExperimentAssignment } from '../pipeline/experiments';
import { FEED_PIPELINES, MIN_DEADLINE_MS, type FeedKind, type FeedPipeline } from '../pipeline/feeds';
import { explainCandidates, featureInputs, gatherCandidates, rankOrder, scoreCandidates } from '../pipeline/run';
import { kendallTau, overlapAtK } from '../rankers/agreement';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import { teamDraftInterleave } from '../selectors/team-draft';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import { withSpan } from '../telemetry/tracing';
import { CursorCodec } from './cursor';

/** Page sizes a client may ask for. */
export const MIN_PAGE_SIZE = 1;
export const MAX_PAGE_SIZE = 100;
/** `compareRankers` looks at most this deep. */
export const MAX_COMPARE_K = 100;
/** A list served by a fallback is cached this briefly, so the requested variant is tried again soon. */
const FALLBACK_SNAPSHOT_TTL_SECONDS = 10;
/** Shadow scorings are abandoned after this long (they never delay an answer, but must not pile up either). */
const SHADOW_TIMEOUT_MS = 10_000;
/** Overlap is measured on the top this many. */
const SHADOW_TOP_K = 25;
/** Kendall's tau is O(n²): shadows are compared on at most this many of the served list's top items. */
const SHADOW_TAU_ITEMS = 500;

const INTERLEAVE = /^interleave:([^,]+),([^,]+)$/;

/** Post ids are Reddit's base-36 ids; anything else cannot name a post, so it is never looked up. */
export const isPlausiblePostId = (id: string): boolean => /^[A-Za-z0-9_]{1,32}$/.test(id);
/** Community names are letters, digits and underscores, as on the site. */
export const isPlausibleCommunityName = (name: string): boolean => /^[A-Za-z0-9_]{1,64}$/.test(name);

export type FeedContext = { readonly community: string } | { readonly post: string };

export interface FeedRequest {
  readonly kind: FeedKind;
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

/** Why one edge ranks where it does: the values its ranker saw and each feature's share of the score. */
export interface EdgeExplanation {
  readonly ranker: string;
  readonly rankerVersion: string;
  readonly features: readonly { readonly name: string; readonly value: number | null; readonly contribution: number | null }[];
  /** The part of the score no feature explains; null when the ranker gives no contributions. */
  readonly bias: number | null;
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
   * The session this page was cut from, for a replayed response (src/cache/responses.ts) to depend on; null when the
   * page must not be replayed (a fallback or degraded list, kept only briefly).
   */
  readonly session: PageSession | null;
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

export interface RankerComparison {
  readonly k: number;
  readonly candidates: number;
  readonly a: { readonly ranker: Ranker; readonly top: readonly { postId: string; rank: number; score: number }[] };
  readonly b: { readonly ranker: Ranker; readonly top: readonly { postId: string; rank: number; score: number }[] };
  readonly overlapAtK: number;
  readonly kendallTau: number;
  /** Every post in either top k: its rank under each (1-based, over all candidates) and rankA - rankB. */
  readonly shifts: readonly { postId: string; rankA: number; rankB: number; shift: number }[];
}

export interface FeedServiceOptions {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cursorSecret: string;
  readonly snapshotTtlSeconds: number;
  readonly snapshotMaxItems: number;
  readonly viewerState: ViewerState;
  /** Where served features and scores are logged for training; nothing is logged without one. */
  readonly featureLog?: FeatureLog;
  readonly pipelines?: Readonly<Record<FeedKind, FeedPipeline>>;
}

/** How a request will be ranked, resolved from its arguments, the experiments and the feed's defaults. */
type Plan =
  | { readonly kind: 'single'; readonly ranker: Ranker; readonly experiment: ExperimentAssignment | null; readonly label: string; readonly explicit: boolean }
  | { readonly kind: 'interleave'; readonly a: Ranker; readonly b: Ranker; readonly label: string };

interface ResolvedContext {
  readonly community: string | null;
  readonly contextPost: Post | null;
  readonly label: string;
}

const isMle = (viewer: Viewer | null) => viewer?.roles.includes(ROLE_MLE) ?? false;

/**
 * The feed service: what resolvers call. It resolves the ranking plan and the context, finds or builds the ranked
 * snapshot (running the feed's pipeline on a miss), and cuts the requested page from it.
 */
export class FeedService {
  private readonly snapshots: SnapshotCache;
  private readonly scores: ScoreCache;
  private readonly cursors: CursorCodec;
  private readonly pipelines: Readonly<Record<FeedKind, FeedPipeline>>;
  /** Sessions and builds in progress by key: concurrent identical cold requests share one ranking (single flight). */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Shadow scorings still running, so tests and shutdown can wait for them. */
  private readonly shadowTasks = new Set<Promise<void>>();
  /** The latest session generation this process served per snapshot key: a replayed page must still be current. */
  private readonly generations = new LRUCache<string, string>({ max: 200_000 });

  constructor(private readonly opts: FeedServiceOptions) {
    this.snapshots = new SnapshotCache(opts.store, opts.snapshotTtlSeconds);
    this.scores = new ScoreCache(opts.store);
    this.cursors = new CursorCodec(opts.cursorSecret);
    this.pipelines = opts.pipelines ?? FEED_PIPELINES;
  }

  /**
   * Whether `generation` is still the session this process serves for `key`: false once a refresh (or an expiry
   * followed by a new session) replaced it here. Another instance's refresh is not seen (see src/cache/responses.ts).
   */
  isCurrentSession(key: string, generation: string): boolean {
    return this.generations.get(key) === generation;
  }

  /** Resolves to once every shadow scoring started so far has finished. */
  async shadowsIdle(): Promise<void> {
    while (this.shadowTasks.size > 0) await Promise.allSettled([...this.shadowTasks]);
  }

  /**
   * Resolves once every build and session started so far has its result in the cache. Answers do not wait for
   * those writes (the gateway's own later reads come after them on its connection); a reader on another connection,
   * or a process about to exit, does.
   */
  async writesIdle(): Promise<void> {
    while (this.inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * A ranker a caller may use by id: UNKNOWN_RANKER (listing the valid ids) when there is none serving, FORBIDDEN
   * when the variant is not public and the caller is not an MLE.
   */
  resolveRanker(id: string, viewer: Viewer | null): Ranker {
    const variant = this.opts.rankers.variant(id);
    const ranker = variant?.ranker;
    if (!variant || !ranker || (!variant.config.public && !isMle(viewer))) {
      // A non-public variant is reported as FORBIDDEN only to signed-in callers; its existence is no secret to them.
      if (variant?.ranker && !variant.config.public && viewer) {
        throw new GatewayError('FORBIDDEN', `Ranker "${id}" is not public: it needs the "${ROLE_MLE}" role.`, { ranker: id });
      }
      const valid = this.opts.rankers.list().filter((v) => v.ranker && (v.config.public || isMle(viewer))).map((v) => v.id);
      throw new GatewayError('UNKNOWN_RANKER', `Unknown ranker "${truncate(id)}". Valid rankers: ${valid.join(', ')}.`, { validRankers: valid });
    }
    return ranker;
  }

  private plan(req: FeedRequest, pipeline: FeedPipeline): Plan {
    if (req.ranker !== null) {
      const m = INTERLEAVE.exec(req.ranker);
      if (m) {
        const a = this.resolveRanker(m[1]!, req.viewer);
        const b = this.resolveRanker(m[2]!, req.viewer);
        if (a.id === b.id) throw new GatewayError('BAD_USER_INPUT', 'Interleaving needs two different rankers: "interleave:A,B".', { argument: 'ranker' });
        return { kind: 'interleave', a, b, label: `interleave:${a.id}@${a.version},${b.id}@${b.version}` };
      }
      const ranker = this.resolveRanker(req.ranker, req.viewer);
      return { kind: 'single', ranker, experiment: null, label: `${ranker.id}@${ranker.version}`, explicit: true };
    }
    const assignment = experimentFor(this.opts.rankers.experiments(), pipeline.kind, req.viewer?.userId ?? null);
    if (assignment) {
      const ranker = this.opts.rankers.get(assignment.ranker);
      if (ranker) return { kind: 'single', ranker, experiment: assignment, label: `${ranker.id}@${ranker.version}`, explicit: false };
    }
    // The feed's default; when it is not serving (a configuration without it, or a model that never loaded), the
    // signed-out default, so a feed never fails for want of its preferred model.
    const preferred = req.viewer ? [pipeline.defaultRanker, pipeline.signedOutRanker] : [pipeline.signedOutRanker];
    const ranker = preferred.map((id) => this.opts.rankers.get(id)).find((r): r is Ranker => !!r);
    if (!ranker) throw new GatewayError('SERVICE_UNAVAILABLE', `No default ranker of the ${pipeline.kind} feed is loaded (${preferred.join(', ')}).`);
    return { kind: 'single', ranker, experiment: null, label: `${ranker.id}@${ranker.version}`, explicit: false };
  }

  async page(req: FeedRequest, loaders: Loaders): Promise<FeedPage> {
    if (!Number.isInteger(req.first) || req.first < MIN_PAGE_SIZE || req.first > MAX_PAGE_SIZE) {
      throw new GatewayError('BAD_USER_INPUT', `"first" must be between ${MIN_PAGE_SIZE} and ${MAX_PAGE_SIZE} (got ${req.first}).`, {
        argument: 'first',
        min: MIN_PAGE_SIZE,
        max: MAX_PAGE_SIZE,
      });
    }
    const pipeline = this.pipelines[req.kind];
    const deadlineMs = req.deadlineMs ?? pipeline.deadlineMs;
    if (!Number.isInteger(deadlineMs) || deadlineMs < MIN_DEADLINE_MS || deadlineMs > pipeline.deadlineMs) {
      throw new GatewayError('BAD_USER_INPUT', `"deadlineMs" must be between ${MIN_DEADLINE_MS} and ${pipeline.deadlineMs} for this feed (got ${req.deadlineMs}).`, {
        argument: 'deadlineMs',
        min: MIN_DEADLINE_MS,
        max: pipeline.deadlineMs,
      });
    }
    const plan = this.plan(req, pipeline);
    const context = await this.resolveContext(req.context, loaders);
    const info = await this.opts.store.datasetInfo();
    const key = snapshotKey([req.kind, req.viewer?.userId ?? '', context.label, plan.label, info?.fingerprint ?? '']);

    let snapshot: Snapshot | null;
    let start = 0;
    let cached = true;
    if (req.after !== null) {
      const cursor = this.cursors.decode(req.after, key);
      snapshot = await this.snapshots.get(key);
      if (!snapshot || snapshot.generation !== cursor.generation) {
        throw new GatewayError('CURSOR_EXPIRED', 'This cursor\'s ranked list has expired; request the feed again without "after".');
      }
      start = cursor.offset + 1;
    } else {
      // The viewer's current session of this feed, unless they ask for a fresh one: the same request twice gives
      // the same page, and a refresh leaves out what was already shown.
      // Everything a new session would read is asked for in the same tick as the session itself, so against Redis
      // it travels in one round trip (the client auto-pipelines) instead of four in a row.
      const sessionRead = req.refresh ? Promise.resolve(null) : this.snapshots.get(key);
      const prefetch: Prefetch = { scores: this.scores.get(key), state: this.readViewerState(req, pipeline) };
      prefetch.scores.catch(() => {});
      snapshot = await sessionRead;
      if (!snapshot) {
        cached = false;
        snapshot = await this.session({ key, req, pipeline, plan, context, loaders, deadlineMs }, prefetch);
      }
    }

    this.generations.set(key, snapshot.generation);
    const exposure = plan.kind === 'single' && plan.experiment ? { experiment: plan.experiment.experiment, arm: plan.experiment.arm, ranker: snapshot.servedBy } : null;
    if (exposure) this.opts.metrics.experimentExposures.inc(exposure);
    const end = Math.min(start + req.first, snapshot.ids.length);
    const edges: FeedEdgeData[] = [];
    for (let i = start; i < end; i++) {
      edges.push({
        postId: snapshot.ids[i]!,
        score: snapshot.scores[i]!,
        rank: i + 1,
        cursor: this.cursors.encode({ key, generation: snapshot.generation, offset: i }),
        contributedBy: snapshot.teams?.[i] ?? null,
      });
    }
    if (req.viewer && pipeline.requestFilters.includes('seen') && edges.length > 0 && !(this.opts.store.kind !== 'embedded' && this.opts.store.health().degraded)) {
      // Served means shown: the next fresh session leaves these out. Off the response path; a failure only logs.
      const userId = req.viewer.userId;
      this.opts.viewerState.addSeen(userId, edges.map((e) => e.postId)).catch((err: unknown) => this.opts.logger.warn({ err: (err as Error)?.message }, 'could not record seen posts'));
    }
    const served = snapshot;
    if (this.opts.featureLog && edges.length > 0) {
      const log = this.opts.featureLog;
      this.logServed(log, req, served, edges, context, loaders).catch((err: unknown) =>
        this.opts.logger.warn({ err: (err as Error)?.message }, 'could not append to the feature log'),
      );
    }
    let explanations: Promise<ReadonlyMap<string, EdgeExplanation>> | null = null;
    return {
      edges,
      pageInfo: {
        hasNextPage: end < snapshot.ids.length,
        hasPreviousPage: start > 0,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      rankedBy: this.rankedBy(plan, served),
      totalCount: snapshot.ids.length,
      cached,
      degraded: this.withStoreHealth(snapshot.degraded),
      funnel: { ...(snapshot.funnel as Omit<Funnel, 'returned'>), returned: edges.length },
      explain: () => (explanations ??= this.explainEdges(edges, served, req, context, loaders)),
      session:
        served.fallbackFrom === null && served.degraded.length === 0
          ? { key, generation: served.generation, expiresAt: served.createdAt + this.opts.snapshotTtlSeconds * 1000, fingerprint: info?.fingerprint ?? '', exposure }
          : null,
    };
  }

  private rankedBy(plan: Plan, s: Snapshot): RankedBy {
    if (plan.kind === 'interleave') {
      return {
        ranker: {
          id: `interleave:${plan.a.id},${plan.b.id}`,
          version: `${plan.a.id}@${plan.a.version},${plan.b.id}@${plan.b.version}`,
          description: `Team-draft interleaving of "${plan.a.id}" and "${plan.b.id}": each edge's contributedBy names the ranker that placed it.`,
          features: [...new Set([...plan.a.features, ...plan.b.features])],
        },
        experiment: null,
        fallbackFrom: null,
        fallbackReason: null,
      };
    }
    const served = s.fallbackFrom ? (this.opts.rankers.get(s.servedBy) ?? plan.ranker) : plan.ranker;
    return {
      ranker: { id: s.servedBy, version: s.servedByVersion, description: served.description, features: served.features },
      experiment: plan.experiment,
      fallbackFrom: s.fallbackFrom,
      fallbackReason: s.fallbackReason,
    };
  }

  private async resolveContext(ctx: FeedContext | null, loaders: Loaders): Promise<ResolvedContext> {
    if (!ctx) return { community: null, contextPost: null, label: '' };
    if ('community' in ctx) {
      const name = ctx.community;
      const found = isPlausibleCommunityName(name) ? await loaders.communities.load(name) : null;
      if (!found) throw new GatewayError('NOT_FOUND', `No community named "${truncate(name)}".`, { context: 'community' });
      return { community: found.name, contextPost: null, label: `community:${found.name}` };
    }
    const id = ctx.post;
    const post = isPlausiblePostId(id) ? await loaders.posts.load(id) : null;
    if (!post) throw new GatewayError('NOT_FOUND', `No post with id "${truncate(id)}".`, { context: 'post' });
    return { community: null, contextPost: post, label: `post:${post.id}` };
  }

  /**
   * A new session of a feed: the (cached) scored list, minus what this viewer has seen and blocked, diversified,
   * frozen as the snapshot every page of the session is cut from. Identical concurrent requests share one.
   */
  private session(job: FeedJob, prefetch: Prefetch): Promise<Snapshot> {
    const { key, req, pipeline, plan } = job;
    const flightKey = `session:${key}:${req.refresh ? 'refresh' : ''}`;
    const running = this.inFlight.get(flightKey) as Promise<Snapshot> | undefined;
    if (running) return running;
    let written: Promise<unknown> = Promise.resolve();
    const promise = withSpan('feed.session', { 'feed.kind': req.kind }, async (span) => {
      const scored = await this.scored(job, prefetch.scores);
      const state = await prefetch.state;
      const degraded = [...scored.degraded, ...state.degraded];
      let keep = scored.ids.map((_, i) => i);
      const requestFiltered: Record<string, number> = {};
      if (state.seen) {
        const seen = state.seen;
        const before = keep.length;
        keep = keep.filter((i) => !seen.has(scored.ids[i]!));
        requestFiltered.seen = before - keep.length;
      }
      if (state.blocked) {
        const blocked = state.blocked;
        const before = keep.length;
        keep = keep.filter((i) => !blocked.has(scored.communities[i]!));
        requestFiltered.blocked = before - keep.length;
      }
      // Diversity shapes the feed's own ranking; an explicitly requested ranker (or interleaving) is shown in its own
      // order, so an MLE comparing rankers sees exactly what each one does.
      let diversityDropped = 0;
      let diversified = false;
      if (pipeline.diversity && plan.kind === 'single' && !plan.explicit) {
        const kept = keep;
        const { order, dropped } = diversifyBy(
          kept.length,
          (j) => scored.communities[kept[j]!]!,
          (j) => scored.domains[kept[j]!] ?? null,
          pipeline.diversity,
          this.opts.snapshotMaxItems,
        );
        keep = order.map((o) => keep[o]!);
        diversityDropped = dropped;
        diversified = true;
      }
      let teams: string[] | null = null;
      let interleaved = false;
      if (scored.interleave) {
        // Team draft over what is left after the filters: A's order is `keep`, B's is orderB restricted to it.
        const left = new Set(keep);
        const orderB = scored.interleave.orderB.filter((i) => left.has(i));
        const rand = seededRandom(`interleave:${key}`);
        const merged = teamDraftInterleave(keep, orderB, this.opts.snapshotMaxItems, () => rand() < 0.5);
        const teamIds = [scored.interleave.a, scored.interleave.b];
        keep = merged.items;
        teams = merged.teams.map((t) => teamIds[t]!);
        interleaved = true;
      }
      keep = keep.slice(0, this.opts.snapshotMaxItems);
      // Edges promise non-increasing scores; diversity may move a post below a lower-scored one, so a served score is
      // capped by the one above it (equal to the ranker's score whenever nothing was moved up past it).
      let cap = Infinity;
      const scores = keep.map((i, n) => {
        // An interleaved list has no common score scale: edges carry their position from the bottom, descending.
        if (interleaved) return keep.length - n;
        const v = diversified ? Math.min(cap, scored.scores[i]!) : scored.scores[i]!;
        cap = v;
        return v;
      });
      const snapshot: Snapshot = {
        generation: SnapshotCache.newGeneration(),
        createdAt: Date.now(),
        servedBy: scored.servedBy,
        servedByVersion: scored.servedByVersion,
        fallbackFrom: scored.fallbackFrom,
        fallbackReason: scored.fallbackReason,
        ids: keep.map((i) => scored.ids[i]!),
        scores,
        teams,
        degraded,
        funnel: { ...scored.funnel, requestFiltered, diversityDropped, ranked: keep.length },
      };
      span.setAttributes({ 'ranker.id': snapshot.servedBy, 'ranker.fallback_from': snapshot.fallbackFrom ?? '', 'session.items': snapshot.ids.length });
      const shortLived = snapshot.fallbackFrom !== null || degraded.length > 0;
      // Not awaited: the write joins the round trip that records the page as seen (same tick), and a later request
      // for the next page reads it back on the same connection, after it.
      written = this.snapshots.put(key, snapshot, shortLived ? FALLBACK_SNAPSHOT_TTL_SECONDS : undefined).catch((err: unknown) =>
        this.opts.logger.warn({ err: (err as Error)?.message }, 'could not store the session snapshot'),
      );
      return snapshot;
    });
    this.holdUntilWritten(flightKey, promise, () => written);
    return promise;
  }

  /** The scored list for a request key: cached, served stale while a fresh one is built when the feed allows it. */
  private async scored(job: FeedJob, prefetched: Promise<ScoredList | null>): Promise<ScoredList> {
    const cached = await prefetched;
    const ttlMs = this.opts.snapshotTtlSeconds * 1000;
    if (cached) {
      const age = Date.now() - cached.createdAt;
      if (age < ttlMs) return cached;
      if (job.pipeline.staleWhileRevalidate) {
        // Stale: answer now, re-rank in the background (once, however many requests see it stale).
        void this.build(job).catch((err: unknown) =>
          this.opts.logger.warn({ err: (err as Error)?.message }, 'background re-ranking failed; the stale list keeps serving'),
        );
        return cached;
      }
    }
    return this.build(job);
  }

  /** Runs the pipeline and ranks: one build per key at a time (single flight). Counted in ranking_builds_total. */
  private build(job: FeedJob): Promise<ScoredList> {
    const { key, req, pipeline, plan, context, loaders, deadlineMs } = job;
    const running = this.inFlight.get(`build:${key}`) as Promise<ScoredList> | undefined;
    if (running) return running;
    let written: Promise<unknown> = Promise.resolve();
    const promise = withSpan('feed.build', { 'feed.kind': req.kind, 'ranking.plan': plan.kind }, async (span) => {
      this.opts.metrics.rankings.inc({ feed: req.kind });
      const viewer = req.viewer ? await loaders.viewers.load(req.viewer.userId) : null;
      const { inputs, stats } = await gatherCandidates(
        { pipeline, viewer, community: context.community, contextPost: context.contextPost },
        { store: this.opts.store, loaders, logger: this.opts.logger },
        deadlineMs,
      );
      let list: Omit<ScoredList, 'communities' | 'domains' | 'degraded' | 'funnel' | 'createdAt' | 'interleave'>;
      let order: number[];
      let interleave: ScoredList['interleave'] = null;
      if (plan.kind === 'interleave') {
        const [sa, sb] = await Promise.all([this.scoreWithFallback(plan.a, inputs), this.scoreWithFallback(plan.b, inputs)]);
        order = rankOrder(inputs, sa.scores);
        const position = new Map(order.map((candidate, i) => [candidate, i]));
        interleave = { a: sa.ranker.id, b: sb.ranker.id, orderB: rankOrder(inputs, sb.scores).map((candidate) => position.get(candidate)!) };
        list = {
          servedBy: `interleave:${plan.a.id},${plan.b.id}`,
          servedByVersion: `${plan.a.id}@${plan.a.version},${plan.b.id}@${plan.b.version}`,
          fallbackFrom: sa.fallbackFrom ?? sb.fallbackFrom,
          fallbackReason: sa.fallbackReason ?? sb.fallbackReason,
          ids: order.map((i) => inputs[i]!.post.id),
          scores: order.map((i) => sa.scores[i]!),
          teams: null,
        };
      } else {
        const scored = await this.scoreWithFallback(plan.ranker, inputs);
        // Kept beyond the page limit: per-request filters and diversity remove some, and the session needs enough left.
        order = rankOrder(inputs, scored.scores).slice(0, this.opts.snapshotMaxItems * 2);
        list = {
          servedBy: scored.ranker.id,
          servedByVersion: scored.ranker.version,
          fallbackFrom: scored.fallbackFrom,
          fallbackReason: scored.fallbackReason,
          ids: order.map((i) => inputs[i]!.post.id),
          scores: order.map((i) => scored.scores[i]!),
          teams: null,
        };
        if (!scored.fallbackFrom) this.startShadows(plan.ranker, inputs, scored.scores);
      }
      const result: ScoredList = {
        ...list,
        createdAt: Date.now(),
        communities: order.map((i) => inputs[i]!.post.community),
        domains: order.map((i) => inputs[i]!.post.domain),
        degraded: stats.degraded,
        funnel: { retrieved: stats.retrieved, unique: stats.unique, filtered: stats.filtered, scored: inputs.length },
        interleave,
      };
      span.setAttributes({ 'ranker.id': result.servedBy, 'ranker.fallback_from': result.fallbackFrom ?? '', 'ranked.count': result.ids.length });
      // A list built without a source or by a fallback is kept briefly, so the real thing is tried again soon.
      const ttl =
        result.fallbackFrom || result.degraded.length > 0
          ? FALLBACK_SNAPSHOT_TTL_SECONDS
          : this.opts.snapshotTtlSeconds * (pipeline.staleWhileRevalidate ? 2 : 1);
      // Not awaited: it joins the next batch of writes; the in-flight promise covers this process until then.
      written = this.scores.put(key, result, ttl).catch((err: unknown) => this.opts.logger.warn({ err: (err as Error)?.message }, 'could not cache the scored list'));
      this.opts.logger.debug({ feed: req.kind, ranking: plan.label, stats, items: result.ids.length }, 'ranked feed');
      return result;
    });
    this.holdUntilWritten(`build:${key}`, promise, () => written);
    return promise;
  }

  /** A page served while the store is degraded (Redis down: served from memory, uncached) says so. */
  private withStoreHealth(degraded: readonly Degradation[]): readonly Degradation[] {
    const health = this.opts.store.health();
    return health.degraded ? [...degraded, { source: 'store', reason: health.reason ?? 'degraded' }] : degraded;
  }

  /**
   * Registers an in-flight build or session until its result is also in the cache: a request whose cache read was
   * answered before the write landed then joins the flight instead of ranking again.
   */
  private holdUntilWritten(key: string, promise: Promise<unknown>, written: () => Promise<unknown>): void {
    this.inFlight.set(key, promise);
    promise
      .then(
        () => written(),
        () => undefined,
      )
      .finally(() => this.inFlight.delete(key));
  }

  /**
   * Scores with a variant under its deadline; on failure or timeout its fallback serves instead (and the answer says
   * so). Without a fallback the failure reaches the client as SERVICE_UNAVAILABLE.
   */
  private async scoreWithFallback(
    ranker: Ranker,
    inputs: readonly FeatureInput[],
  ): Promise<{ ranker: Ranker; scores: Float64Array; fallbackFrom: string | null; fallbackReason: string | null }> {
    const variant = this.opts.rankers.variant(ranker.id);
    const timeoutMs = variant?.config.timeoutMs;
    try {
      const scores = await withDeadline((signal) => scoreCandidates(ranker, inputs, signal), timeoutMs);
      return { ranker, scores, fallbackFrom: null, fallbackReason: null };
    } catch (err) {
      const reason = err instanceof DeadlineExceeded ? `deadline of ${timeoutMs} ms exceeded` : `failed: ${(err as Error).message}`.slice(0, 300);
      const fallbackId = variant?.config.fallback;
      const fallback = fallbackId ? this.opts.rankers.get(fallbackId) : undefined;
      this.opts.logger.warn({ ranker: ranker.id, fallback: fallbackId ?? null, reason }, 'ranker failed');
      if (!fallback || fallback.id === ranker.id) {
        throw new GatewayError('SERVICE_UNAVAILABLE', `Ranker "${ranker.id}" ${reason}, and it has no fallback.`, { ranker: ranker.id });
      }
      this.opts.metrics.rankerFallbacks.inc({ variant: ranker.id, fallback: fallback.id, reason: err instanceof DeadlineExceeded ? 'deadline' : 'error' });
      const scores = await scoreCandidates(fallback, inputs);
      return { ranker: fallback, scores, fallbackFrom: ranker.id, fallbackReason: reason };
    }
  }

  /** Scores the variant's shadows on the same candidates after the answer has gone; records their agreement. */
  private startShadows(served: Ranker, inputs: readonly FeatureInput[], servedScores: Float64Array): void {
    const shadows = this.opts.rankers.variant(served.id)?.config.shadows ?? [];
    for (const shadowId of shadows) {
      const shadow = this.opts.rankers.get(shadowId);
      if (!shadow) continue;
      const labels = { variant: served.id, shadow: shadowId };
      // Off the request's trace: a shadow runs after the answer, in a root span of its own.
      const task = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() =>
          otelContext.with(ROOT_CONTEXT, () =>
            withSpan('rank.shadow', { 'ranker.id': served.id, 'shadow.id': shadowId, 'batch.rows': inputs.length }, () =>
              withDeadline((signal) => scoreCandidates(shadow, inputs, signal), SHADOW_TIMEOUT_MS),
            ),
          ),
        )
        .then((shadowScores) => {
          const servedOrder = rankOrder(inputs, servedScores);
          const shadowOrder = rankOrder(inputs, shadowScores);
          this.opts.metrics.shadowTopKOverlap.observe(labels, overlapAtK(servedOrder, shadowOrder, SHADOW_TOP_K));
          const top = servedOrder.slice(0, SHADOW_TAU_ITEMS);
          this.opts.metrics.shadowKendallTau.observe(labels, kendallTau(top.map((i) => servedScores[i]!), top.map((i) => shadowScores[i]!)));
        })
        .catch((err: unknown) => {
          this.opts.metrics.shadowFailures.inc(labels);
          this.opts.logger.warn({ ...labels, err: (err as Error)?.message }, 'shadow scoring failed');
        })
        .finally(() => this.shadowTasks.delete(task));
      this.shadowTasks.add(task);
    }
  }

  /**
   * What the per-request filters need: the posts the viewer has seen and the communities they blocked. Never
   * rejects: an unreachable viewer state (or a store known to be degraded) serves without the filter, and says so.
   */
  private async readViewerState(req: FeedRequest, pipeline: FeedPipeline): Promise<ViewerStateRead> {
    const out: { seen: Set<string> | null; blocked: Set<string> | null; degraded: Degradation[] } = { seen: null, blocked: null, degraded: [] };
    if (!req.viewer) return out;
    const wants = (name: 'seen' | 'blocked') => pipeline.requestFilters.includes(name);
    const health = this.opts.store.health();
    if (health.degraded && this.opts.store.kind !== 'embedded') {
      // The viewer state lives beside the store: do not wait on it while the store says it is unavailable.
      for (const name of pipeline.requestFilters) out.degraded.push({ source: `${name}-filter`, reason: 'viewer state unavailable while the store is degraded' });
      return out;
    }
    const userId = req.viewer.userId;
    const [seen, blocked] = await Promise.allSettled([
      wants('seen') ? this.opts.viewerState.seen(userId) : Promise.resolve(null),
      wants('blocked') ? this.opts.viewerState.blockedCommunities(userId) : Promise.resolve(null),
    ]);
    if (seen.status === 'fulfilled') out.seen = seen.value;
    else out.degraded.push({ source: 'seen-filter', reason: `viewer state unavailable: ${(seen.reason as Error)?.message}`.slice(0, 200) });
    if (blocked.status === 'fulfilled') out.blocked = blocked.value ? new Set(blocked.value) : null;
    else out.degraded.push({ source: 'blocked-filter', reason: `viewer state unavailable: ${(blocked.reason as Error)?.message}`.slice(0, 200) });
    return out;
  }

  /** Appends a served page's items, with every registry feature's value, to the feature log. */
  private async logServed(log: FeatureLog, req: FeedRequest, snapshot: Snapshot, edges: readonly FeedEdgeData[], context: ResolvedContext, loaders: Loaders): Promise<void> {
    // The log lives beside the store: while the store says it is unavailable, these entries are not waited on.
    if (this.opts.store.kind !== 'embedded' && this.opts.store.health().degraded) return;
    const viewer = req.viewer ? await loaders.viewers.load(req.viewer.userId) : null;
    const loaded = await loaders.posts.loadMany(edges.map((e) => e.postId));
    const posts = loaded.filter((p): p is Post => !!p && !(p instanceof Error));
    const inputs = await featureInputs(posts, { viewer, contextPost: context.contextPost }, loaders);
    const names = FEATURES.map((f) => f.name);
    const batch = buildFeatureBatch(names, inputs);
    const byPost = new Map(edges.map((e) => [e.postId, e]));
    const at = Date.now();
    await log.append(
      inputs.map((input, r) => {
        const edge = byPost.get(input.post.id)!;
        return {
          requestId: req.requestId ?? '',
          feed: req.kind,
          ranker: edge.contributedBy ?? snapshot.servedBy,
          rankerVersion: snapshot.servedByVersion,
          position: edge.rank,
          postId: edge.postId,
          score: edge.score,
          features: names,
          values: rowValues(batch.values, r * names.length, names.length),
          at,
        };
      }),
    );
  }

  /** Explanations for a page's edges: the posts are re-hydrated (one batch) and explained by the ranker that placed them. */
  private async explainEdges(
    edges: readonly FeedEdgeData[],
    snapshot: Snapshot,
    req: FeedRequest,
    context: ResolvedContext,
    loaders: Loaders,
  ): Promise<ReadonlyMap<string, EdgeExplanation>> {
    const viewer = req.viewer ? await loaders.viewers.load(req.viewer.userId) : null;
    const posts = (await loaders.posts.loadMany(edges.map((e) => e.postId))).filter((p): p is Post => !!p && !(p instanceof Error));
    const inputs = await featureInputs(posts, { viewer, contextPost: context.contextPost }, loaders);
    const out = new Map<string, EdgeExplanation>();
    const byRanker = new Map<string, FeatureInput[]>();
    for (const input of inputs) {
      const edge = edges.find((e) => e.postId === input.post.id)!;
      const rankerId = edge.contributedBy ?? snapshot.servedBy;
      let list = byRanker.get(rankerId);
      if (!list) byRanker.set(rankerId, (list = []));
      list.push(input);
    }
    for (const [rankerId, list] of byRanker) {
      const ranker = this.opts.rankers.get(rankerId);
      if (!ranker) continue;
      const { batch, explanation } = await explainCandidates(ranker, list);
      const width = ranker.features.length;
      list.forEach((input, r) => {
        out.set(input.post.id, {
          ranker: ranker.id,
          rankerVersion: ranker.version,
          features: ranker.features.map((name, c) => {
            const v = batch.values[r * width + c]!;
            return { name, value: Number.isNaN(v) ? null : v, contribution: explanation ? explanation.contributions[r * (width + 1) + c]! : null };
          }),
          bias: explanation ? explanation.contributions[r * (width + 1) + width]! : null,
        });
      });
    }
    return out;
  }

  /**
   * The same candidate set ranked by two variants: both top-k lists, overlap@k, Kendall's tau over every candidate,
   * and each top-k item's rank shift. For MLEs (the resolver checks the role).
   */
  async compare(
    req: { viewerId: string | null; context: FeedContext | null; a: string; b: string; k: number; caller: Viewer | null },
    loaders: Loaders,
  ): Promise<RankerComparison> {
    if (!Number.isInteger(req.k) || req.k < 1 || req.k > MAX_COMPARE_K) {
      throw new GatewayError('BAD_USER_INPUT', `"k" must be between 1 and ${MAX_COMPARE_K} (got ${req.k}).`, { argument: 'k' });
    }
    const a = this.resolveRanker(req.a, req.caller);
    const b = this.resolveRanker(req.b, req.caller);
    const kind: FeedKind = !req.context ? 'home' : 'community' in req.context ? 'community' : 'post';
    if (kind === 'home' && req.viewerId === null) throw new GatewayError('BAD_USER_INPUT', 'Comparing on the home feed needs a viewer (sign in or pass "viewer").');
    const context = await this.resolveContext(req.context, loaders);
    const viewer = req.viewerId !== null ? await loaders.viewers.load(req.viewerId) : null;
    const { inputs } = await gatherCandidates({ pipeline: this.pipelines[kind], viewer, community: context.community, contextPost: context.contextPost }, {
      store: this.opts.store,
      loaders,
      logger: this.opts.logger,
    });
    const [sa, sb] = await Promise.all([scoreCandidates(a, inputs), scoreCandidates(b, inputs)]);
    const orderA = rankOrder(inputs, sa);
    const orderB = rankOrder(inputs, sb);
    const rankA = new Map(orderA.map((idx, r) => [idx, r + 1]));
    const rankB = new Map(orderB.map((idx, r) => [idx, r + 1]));
    const k = Math.min(req.k, inputs.length);
    const top = (order: number[], scores: Float64Array) => order.slice(0, k).map((idx, r) => ({ postId: inputs[idx]!.post.id, rank: r + 1, score: scores[idx]! }));
    const union = [...new Set([...orderA.slice(0, k), ...orderB.slice(0, k)])];
    return {
      k,
      candidates: inputs.length,
      a: { ranker: a, top: top(orderA, sa) },
      b: { ranker: b, top: top(orderB, sb) },
      overlapAtK: overlapAtK(orderA, orderB, k),
      kendallTau: kendallTau(sa, sb),
      shifts: union.map((idx) => ({ postId: inputs[idx]!.post.id, rankA: rankA.get(idx)!, rankB: rankB.get(idx)!, shift: rankA.get(idx)! - rankB.get(idx)! })),
    };
  }
}

/** Everything that decides one feed request's ranking, passed whole to the session and build steps. */
interface FeedJob {
  /** The request's snapshot key (also its scores' and its single-flight key). */
  readonly key: string;
  readonly req: FeedRequest;
  readonly pipeline: FeedPipeline;
  readonly plan: Plan;
  readonly context: ResolvedContext;
  readonly loaders: Loaders;
  readonly deadlineMs: number;
}

/** Reads started with the session lookup, so a new session needs no further round trip for them. */
interface Prefetch {
  readonly scores: Promise<ScoredList | null>;
  readonly state: Promise<ViewerStateRead>;
}

interface ViewerStateRead {
  readonly seen: ReadonlySet<string> | null;
  readonly blocked: ReadonlySet<string> | null;
  readonly degraded: readonly Degradation[];
}

class DeadlineExceeded extends Error {}

/** Runs `fn` with an AbortSignal that fires after `ms`, and stops waiting for it then even if it ignores the signal. */
async function withDeadline<T>(fn: (signal?: AbortSignal) => Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return fn();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new DeadlineExceeded(`deadline of ${ms} ms exceeded`));
      reject(new DeadlineExceeded(`deadline of ${ms} ms exceeded`));
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Snapshot keys are a hash of what determines the ranked list: feed, viewer, context, ranking plan (ranker ids and
 * versions), and the content's fingerprint. Hashing keeps user-supplied text out of store keys and bounds their length.
 */
function snapshotKey(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);
}

const truncate = (s: string, n = 64) => (s.length > n ? `${s.slice(0, n)}…` : s).replace(/[\r\n]/g, ' ');

/** `count` values of `values` from `at`, as an array (a loop: Array.from on a typed array steps an iterator per value). */
function rowValues(values: Float64Array, at: number, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = values[at + i]!;
  return out;
}
