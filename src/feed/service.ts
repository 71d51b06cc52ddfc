import { createHash } from 'node:crypto';
import type { Viewer } from '../auth/tokens';
import { SnapshotCache, type Snapshot } from '../cache/snapshots';
import type { Post } from '../content';
import { GatewayError } from '../errors';
import type { Loaders } from '../features/loaders';
import { FEED_PIPELINES, type FeedKind, type FeedPipeline } from '../pipeline/feeds';
import { runPipeline } from '../pipeline/run';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import { withSpan } from '../telemetry/tracing';
import { CursorCodec } from './cursor';

/** Page sizes a client may ask for. */
export const MIN_PAGE_SIZE = 1;
export const MAX_PAGE_SIZE = 100;

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
  /** The requested ranker id; null for the feed's default. */
  readonly ranker: string | null;
}

export interface FeedEdgeData {
  readonly postId: string;
  readonly score: number;
  /** 1-based position in the ranked list. */
  readonly rank: number;
  readonly cursor: string;
}

export interface FeedPage {
  readonly edges: readonly FeedEdgeData[];
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
  readonly ranker: Ranker;
  /** Total items in the snapshot this page was cut from. */
  readonly totalCount: number;
  /** Whether the ranked list came from the snapshot cache. */
  readonly cached: boolean;
}

export interface FeedServiceOptions {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly logger: Logger;
  readonly cursorSecret: string;
  readonly snapshotTtlSeconds: number;
  readonly snapshotMaxItems: number;
  readonly pipelines?: Readonly<Record<FeedKind, FeedPipeline>>;
}

/**
 * The feed service: what resolvers call. It resolves the ranker and the context, finds or builds the ranked snapshot
 * (running the feed's pipeline on a miss), and cuts the requested page from it.
 */
export class FeedService {
  private readonly snapshots: SnapshotCache;
  private readonly cursors: CursorCodec;
  private readonly pipelines: Readonly<Record<FeedKind, FeedPipeline>>;
  /** Builds in progress by snapshot key: concurrent identical cold requests share one ranking (single flight). */
  private readonly inFlight = new Map<string, Promise<Snapshot>>();

  constructor(private readonly opts: FeedServiceOptions) {
    this.snapshots = new SnapshotCache(opts.store, opts.snapshotTtlSeconds);
    this.cursors = new CursorCodec(opts.cursorSecret);
    this.pipelines = opts.pipelines ?? FEED_PIPELINES;
  }

  /** Resolves a ranker id, or throws UNKNOWN_RANKER listing the valid ids. */
  resolveRanker(id: string): Ranker {
    const ranker = this.opts.rankers.get(id);
    if (!ranker) {
      throw new GatewayError('UNKNOWN_RANKER', `Unknown ranker "${truncate(id)}". Valid rankers: ${this.opts.rankers.ids().join(', ')}.`, {
        validRankers: this.opts.rankers.ids(),
      });
    }
    return ranker;
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
    const ranker = this.resolveRanker(req.ranker ?? (req.viewer ? pipeline.defaultRanker : pipeline.signedOutRanker));
    const { community, contextPost, contextLabel } = await this.resolveContext(req, loaders);
    const info = await this.opts.store.datasetInfo();
    const key = snapshotKey([req.kind, req.viewer?.userId ?? '', contextLabel, ranker.id, ranker.version, info?.fingerprint ?? '']);

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
      snapshot = await this.snapshots.get(key);
      if (!snapshot) {
        cached = false;
        snapshot = await this.build(key, req, pipeline, ranker, community, contextPost, loaders);
      }
    }

    const end = Math.min(start + req.first, snapshot.ids.length);
    const edges: FeedEdgeData[] = [];
    for (let i = start; i < end; i++) {
      edges.push({
        postId: snapshot.ids[i]!,
        score: snapshot.scores[i]!,
        rank: i + 1,
        cursor: this.cursors.encode({ key, generation: snapshot.generation, offset: i }),
      });
    }
    return {
      edges,
      pageInfo: {
        hasNextPage: end < snapshot.ids.length,
        hasPreviousPage: start > 0,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      },
      ranker,
      totalCount: snapshot.ids.length,
      cached,
    };
  }

  private async resolveContext(
    req: FeedRequest,
    loaders: Loaders,
  ): Promise<{ community: string | null; contextPost: Post | null; contextLabel: string }> {
    const ctx = req.context;
    if (!ctx) return { community: null, contextPost: null, contextLabel: '' };
    if ('community' in ctx) {
      const name = ctx.community;
      const found = isPlausibleCommunityName(name) ? await loaders.communities.load(name) : null;
      if (!found) throw new GatewayError('NOT_FOUND', `No community named "${truncate(name)}".`, { context: 'community' });
      return { community: found.name, contextPost: null, contextLabel: `community:${found.name}` };
    }
    const id = ctx.post;
    const post = isPlausiblePostId(id) ? await loaders.posts.load(id) : null;
    if (!post) throw new GatewayError('NOT_FOUND', `No post with id "${truncate(id)}".`, { context: 'post' });
    return { community: null, contextPost: post, contextLabel: `post:${post.id}` };
  }

  private build(
    key: string,
    req: FeedRequest,
    pipeline: FeedPipeline,
    ranker: Ranker,
    community: string | null,
    contextPost: Post | null,
    loaders: Loaders,
  ): Promise<Snapshot> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const promise = withSpan('feed.build', { 'feed.kind': req.kind, 'ranker.id': ranker.id }, async () => {
      const viewer = req.viewer ? await loaders.viewers.load(req.viewer.userId) : null;
      const ranked = await runPipeline(
        { pipeline, ranker, viewer, community, contextPost, maxItems: this.opts.snapshotMaxItems },
        { store: this.opts.store, loaders, logger: this.opts.logger },
      );
      const snapshot: Snapshot = {
        generation: SnapshotCache.newGeneration(),
        createdAt: Date.now(),
        rankerId: ranker.id,
        rankerVersion: ranker.version,
        ids: ranked.ids,
        scores: ranked.scores,
      };
      await this.snapshots.put(key, snapshot);
      this.opts.logger.debug({ feed: req.kind, ranker: ranker.id, stats: ranked.stats }, 'ranked feed');
      return snapshot;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }
}

/**
 * Snapshot keys are a hash of what determines the ranked list: feed, viewer, context, ranker id and version, and the
 * content's fingerprint. Hashing keeps user-supplied text out of store keys and bounds their length.
 */
function snapshotKey(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);
}

const truncate = (s: string, n = 64) => (s.length > n ? `${s.slice(0, n)}…` : s).replace(/[\r\n]/g, ' ');
