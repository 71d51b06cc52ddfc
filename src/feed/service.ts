import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SingleFlight } from '../cache/single-flight';
import { SnapshotCache, type Snapshot } from '../cache/snapshots';
import { GatewayError } from '../errors';
import type { Loaders } from '../features/loaders';
import { MAX_PAGE_SIZE, MIN_DEADLINE_MS, MIN_PAGE_SIZE } from '../limits';
import type { FeedPipelines } from '../pipeline/feeds';
import { PipelineRunner, type RunJob } from '../pipeline/runner';
import type { RankerRegistry } from '../rankers/registry';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import { compareRankers, type CompareRequest, type RankerComparison } from './compare';
import { resolveContext } from './context';
import { CursorCodec } from './cursor';
import type { FeedEdgeData, FeedPage, FeedRequest, Funnel } from './page';
import { planFor, rankedBy } from './plan';

export interface FeedServiceOptions {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cursorSecret: string;
  readonly snapshotTtlSeconds: number;
  readonly snapshotMaxItems: number;
  /** Feed pipelines by name; every name in them is checked when the service is made. */
  readonly pipelines: FeedPipelines;
}

/**
 * What resolvers call. It resolves the request (arguments, ranking plan, context), asks the snapshot cache for the
 * viewer's session of the feed or the pipeline runner for a new one, and cuts the requested page from it.
 */
export class FeedService {
  readonly runner: PipelineRunner;
  private readonly snapshots: SnapshotCache;
  private readonly cursors: CursorCodec;
  /** The latest session generation this process served per snapshot key: a replayed page must still be current. */
  private readonly generations = new LRUCache<string, string>({ max: 200_000 });

  constructor(private readonly opts: FeedServiceOptions) {
    this.snapshots = new SnapshotCache(opts.store, opts.snapshotTtlSeconds);
    this.cursors = new CursorCodec(opts.cursorSecret);
    this.runner = new PipelineRunner({ ...opts, snapshots: this.snapshots, flights: new SingleFlight() });
  }

  /**
   * Whether `generation` is still the session this process serves for `key`: false once a refresh (or an expiry
   * followed by a new session) replaced it here. Another instance's refresh is not seen (see src/http/replay.ts).
   */
  isCurrentSession(key: string, generation: string): boolean {
    return this.generations.get(key) === generation;
  }

  /** Resolves once every side effect, build and session started so far has finished and been stored. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  async page(req: FeedRequest, loaders: Loaders): Promise<FeedPage> {
    const pipeline = this.runner.pipeline(req.feed);
    if (!pipeline) throw new Error(`no feed pipeline named "${req.feed}"`);
    if (!Number.isInteger(req.first) || req.first < MIN_PAGE_SIZE || req.first > MAX_PAGE_SIZE) {
      throw new GatewayError('BAD_USER_INPUT', `"first" must be between ${MIN_PAGE_SIZE} and ${MAX_PAGE_SIZE} (got ${req.first}).`, {
        argument: 'first',
        min: MIN_PAGE_SIZE,
        max: MAX_PAGE_SIZE,
      });
    }
    const deadlineMs = req.deadlineMs ?? pipeline.deadlineMs;
    if (!Number.isInteger(deadlineMs) || deadlineMs < MIN_DEADLINE_MS || deadlineMs > pipeline.deadlineMs) {
      throw new GatewayError('BAD_USER_INPUT', `"deadlineMs" must be between ${MIN_DEADLINE_MS} and ${pipeline.deadlineMs} for this feed (got ${req.deadlineMs}).`, {
        argument: 'deadlineMs',
        min: MIN_DEADLINE_MS,
        max: pipeline.deadlineMs,
      });
    }
    const plan = planFor(this.opts.rankers, pipeline, req.ranker, req.viewer);
    const context = await resolveContext(pipeline, req.context, loaders);
    const info = await this.opts.store.datasetInfo();
    const key = snapshotKey([pipeline.name, req.viewer?.userId ?? '', context.label, plan.label, info?.fingerprint ?? '']);
    const job: RunJob = {
      key,
      pipeline,
      plan,
      viewer: req.viewer,
      community: context.community,
      contextPost: context.contextPost,
      loaders,
      deadlineMs,
      refresh: req.refresh ?? false,
      requestId: req.requestId ?? '',
    };

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
      // the same page, and a refresh leaves out what was already shown. Everything a new session would read is asked
      // for in the same tick as the session itself, so against Redis it travels in one round trip.
      const sessionRead = job.refresh ? Promise.resolve(null) : this.snapshots.get(key);
      const prefetch = this.runner.prefetch(job);
      snapshot = await sessionRead;
      if (!snapshot) {
        cached = false;
        snapshot = await this.runner.session(job, prefetch);
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
    const served = snapshot;
    this.runner.served(job, served, edges);
    const health = this.opts.store.health();
    let explanations: ReturnType<FeedPage['explain']> | null = null;
    return {
      edges,
      pageInfo: {
        hasNextPage: end < served.ids.length,
        hasPreviousPage: start > 0,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      rankedBy: rankedBy(this.opts.rankers, plan, served),
      totalCount: served.ids.length,
      cached,
      // A page served while the store is degraded (Redis down: served from memory, uncached) says so.
      degraded: health.degraded ? [...served.degraded, { source: 'store', reason: health.reason ?? 'degraded' }] : served.degraded,
      funnel: { ...(served.funnel as Omit<Funnel, 'returned'>), returned: edges.length },
      explain: () => (explanations ??= this.runner.explain(job, served, edges)),
      session:
        served.fallbackFrom === null && served.degraded.length === 0
          ? { key, generation: served.generation, expiresAt: served.createdAt + this.opts.snapshotTtlSeconds * 1000, fingerprint: info?.fingerprint ?? '', exposure }
          : null,
    };
  }

  /** Two rankers on one feed's candidate set, side by side (src/feed/compare.ts). */
  compare(req: CompareRequest, loaders: Loaders): Promise<RankerComparison> {
    return compareRankers(req, this.runner, this.opts.rankers, loaders);
  }
}

/**
 * Snapshot keys are a hash of what determines the ranked list: feed, viewer, context, ranking plan (ranker ids and
 * versions), and the content's fingerprint. Hashing keeps user-supplied text out of store keys and bounds their length.
 */
function snapshotKey(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);
}
