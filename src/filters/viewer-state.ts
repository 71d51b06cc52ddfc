import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/** What a viewer has been shown, and the settings they chose: the state the per-request filters read. */
export interface ViewerState {
  /** Post ids shown to (or reported seen by) the viewer, within the retention window. */
  seen(userId: string): Promise<Set<string>>;
  /** Records posts as seen. Keeps at most `maxSeen` per viewer (the most recent) for `seenTtlSeconds`. */
  addSeen(userId: string, postIds: readonly string[]): Promise<void>;
  blockedCommunities(userId: string): Promise<string[]>;
  setBlockedCommunities(userId: string, names: readonly string[]): Promise<void>;
}

export interface ViewerStateLimits {
  /** Seen posts kept per viewer (the most recent). @default 2000 */
  readonly maxSeen: number;
  /** How long seen posts are remembered. @default 7 days */
  readonly seenTtlSeconds: number;
}

export const DEFAULT_VIEWER_STATE_LIMITS: ViewerStateLimits = { maxSeen: 2000, seenTtlSeconds: 7 * 24 * 3600 };
/** Blocked communities per viewer, at most. */
export const MAX_BLOCKED = 200;

/** User ids are arbitrary strings: keys carry a hash of them, never the id itself. */
const viewerKey = (userId: string) => createHash('sha256').update(userId).digest('base64url').slice(0, 22);

/** In-process viewer state (the embedded store's companion). Bounded: least recently active viewers go first. */
export class EmbeddedViewerState implements ViewerState {
  private readonly seenByViewer: LRUCache<string, Map<string, number>>;
  private readonly blocked = new LRUCache<string, string[]>({ max: 100_000 });

  constructor(private readonly limits: ViewerStateLimits = DEFAULT_VIEWER_STATE_LIMITS) {
    this.seenByViewer = new LRUCache({ max: 100_000, ttl: limits.seenTtlSeconds * 1000 });
  }

  async seen(userId: string): Promise<Set<string>> {
    const m = this.seenByViewer.get(viewerKey(userId));
    if (!m) return new Set();
    const cutoff = Date.now() - this.limits.seenTtlSeconds * 1000;
    return new Set([...m].filter(([, at]) => at >= cutoff).map(([id]) => id));
  }

  async addSeen(userId: string, postIds: readonly string[]): Promise<void> {
    const key = viewerKey(userId);
    const m = this.seenByViewer.get(key) ?? new Map<string, number>();
    const now = Date.now();
    for (const id of postIds) {
      m.delete(id); // re-insert: Map order is recency order
      m.set(id, now);
    }
    while (m.size > this.limits.maxSeen) m.delete(m.keys().next().value!);
    this.seenByViewer.set(key, m);
  }

  async blockedCommunities(userId: string): Promise<string[]> {
    return [...(this.blocked.get(viewerKey(userId)) ?? [])];
  }

  async setBlockedCommunities(userId: string, names: readonly string[]): Promise<void> {
    this.blocked.set(viewerKey(userId), [...new Set(names)].slice(0, MAX_BLOCKED));
  }
}

/**
 * Viewer state in Redis: seen posts as a sorted set per viewer scored by time (trimmed to the newest `maxSeen`,
 * expiring `seenTtlSeconds` after the last write), blocked communities as a set. One key per viewer and kind, so
 * every command touches one slot (cluster-safe).
 */
export class RedisViewerState implements ViewerState {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly limits: ViewerStateLimits = DEFAULT_VIEWER_STATE_LIMITS,
  ) {}

  async seen(userId: string): Promise<Set<string>> {
    const key = `${this.prefix}seen:${viewerKey(userId)}`;
    const cutoff = Date.now() - this.limits.seenTtlSeconds * 1000;
    return new Set(await this.redis.zrangebyscore(key, cutoff, '+inf'));
  }

  async addSeen(userId: string, postIds: readonly string[]): Promise<void> {
    if (postIds.length === 0) return;
    const key = `${this.prefix}seen:${viewerKey(userId)}`;
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const id of postIds) args.push(now, id);
    // Plain commands issued together: the serving client auto-pipelines them with the page's other writes.
    await Promise.all([
      this.redis.zadd(key, ...args),
      // Keep the newest maxSeen: remove ranks 0 .. -(maxSeen + 1), the oldest.
      this.redis.zremrangebyrank(key, 0, -(this.limits.maxSeen + 1)),
      this.redis.expire(key, this.limits.seenTtlSeconds),
    ]);
  }

  async blockedCommunities(userId: string): Promise<string[]> {
    return (await this.redis.smembers(`${this.prefix}blocked:${viewerKey(userId)}`)).sort();
  }

  async setBlockedCommunities(userId: string, names: readonly string[]): Promise<void> {
    const key = `${this.prefix}blocked:${viewerKey(userId)}`;
    const unique = [...new Set(names)].slice(0, MAX_BLOCKED);
    const p = this.redis.pipeline().del(key);
    if (unique.length > 0) p.sadd(key, ...unique);
    await p.exec();
  }
}
