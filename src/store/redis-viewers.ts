import { MAX_BLOCKED } from '../limits';
import type { RedisClient } from './connection';
import type { KeyLayout } from './keys';
import { DEFAULT_VIEWER_STATE_LIMITS, type ViewerStateLimits, type ViewerStateStore } from './store';

/** How the Redis store lets its companions (viewer state, feature log) use its connection. */
export interface RedisGate {
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  /** Null while Redis may be used; else why not (the store is degraded: Redis down, being re-seeded...). */
  unavailable(): string | null;
}

/**
 * Viewer state in Redis: seen posts as a sorted set per viewer scored by time (trimmed to the newest `maxSeen`,
 * expiring `seenTtlSeconds` after the last write), blocked communities as a set. One key per viewer and kind, so
 * every command touches one slot (cluster-safe). The commands ride the serving connection, so the client
 * auto-pipelines them with a request's other reads and writes.
 */
export class RedisViewerState implements ViewerStateStore {
  constructor(
    private readonly gate: RedisGate,
    private readonly limits: ViewerStateLimits = DEFAULT_VIEWER_STATE_LIMITS,
  ) {}

  async seen(userId: string): Promise<Set<string>> {
    this.readable();
    const cutoff = Date.now() - this.limits.seenTtlSeconds * 1000;
    return new Set(await this.gate.redis.zrangebyscore(this.gate.keys.seen(userId), cutoff, '+inf'));
  }

  async addSeen(userId: string, postIds: readonly string[]): Promise<void> {
    // While the store is degraded a seen write is dropped: it only shapes a later fresh session.
    if (postIds.length === 0 || this.gate.unavailable() !== null) return;
    const key = this.gate.keys.seen(userId);
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const id of postIds) args.push(now, id);
    const { redis } = this.gate;
    await Promise.all([
      redis.zadd(key, ...args),
      // Keep the newest maxSeen: remove ranks 0 .. -(maxSeen + 1), the oldest.
      redis.zremrangebyrank(key, 0, -(this.limits.maxSeen + 1)),
      redis.expire(key, this.limits.seenTtlSeconds),
    ]);
  }

  async blockedCommunities(userId: string): Promise<string[]> {
    this.readable();
    return (await this.gate.redis.smembers(this.gate.keys.blocked(userId))).sort();
  }

  async setBlockedCommunities(userId: string, names: readonly string[]): Promise<void> {
    this.readable();
    const key = this.gate.keys.blocked(userId);
    const unique = [...new Set(names)].slice(0, MAX_BLOCKED);
    const p = this.gate.redis.pipeline().del(key);
    if (unique.length > 0) p.sadd(key, ...unique);
    await p.exec();
  }

  /** A read is not waited on while the store says Redis is unavailable: it fails at once, saying why. */
  private readable(): void {
    const why = this.gate.unavailable();
    if (why !== null) throw new Error(`unavailable while the store is degraded (${why})`);
  }
}
