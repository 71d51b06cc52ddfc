import { GatewayError } from '../errors';
import { MAX_BLOCKED } from '../limits';
import type { RedisClient } from './connection';
import type { KeyLayout } from './keys';
import { DEFAULT_VIEWER_STATE_LIMITS, type ViewerStateLimits, type ViewerStateStore } from './store';

/** How the Redis store lets its companions (viewer state, feature log) use its connection. */
export interface RedisGate {
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  /** Runs a command when Redis may be used (see `gated`), else fails at once with SERVICE_UNAVAILABLE. */
  call<T>(fn: () => Promise<T>): Promise<T>;
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
    const cutoff = Date.now() - this.limits.seenTtlSeconds * 1000;
    return new Set(await this.gate.call(() => this.gate.redis.zrangebyscore(this.gate.keys.seen(userId), cutoff, '+inf')));
  }

  async addSeen(userId: string, postIds: readonly string[]): Promise<void> {
    if (postIds.length === 0) return;
    const key = this.gate.keys.seen(userId);
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const id of postIds) args.push(now, id);
    const { redis } = this.gate;
    await this.gate.call(() =>
      Promise.all([
        redis.zadd(key, ...args),
        // Keep the newest maxSeen: remove ranks 0 .. -(maxSeen + 1), the oldest.
        redis.zremrangebyrank(key, 0, -(this.limits.maxSeen + 1)),
        redis.expire(key, this.limits.seenTtlSeconds),
      ]),
    );
  }

  async blockedCommunities(userId: string): Promise<string[]> {
    return (await this.gate.call(() => this.gate.redis.smembers(this.gate.keys.blocked(userId)))).sort();
  }

  async setBlockedCommunities(userId: string, names: readonly string[]): Promise<void> {
    const key = this.gate.keys.blocked(userId);
    const unique = [...new Set(names)].slice(0, MAX_BLOCKED);
    const p = this.gate.redis.pipeline().del(key);
    if (unique.length > 0) p.sadd(key, ...unique);
    await this.gate.call(() => p.exec());
  }
}

/**
 * Runs a viewer-state or feature-log command on the gate's connection: at once SERVICE_UNAVAILABLE while the store
 * says Redis is unavailable (nothing is waited on), and SERVICE_UNAVAILABLE when the command fails. The error's
 * `reason` says why, for a log or an answer's `extensions.ranking.degraded`.
 */
export async function gated<T>(unavailable: () => string | null, fn: () => Promise<T>): Promise<T> {
  const why = unavailable();
  if (why !== null) throw stateUnavailable(`the store is degraded: ${why}`);
  try {
    return await fn();
  } catch (err) {
    throw stateUnavailable(`Redis failed: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`, err);
  }
}

function stateUnavailable(reason: string, cause?: unknown): GatewayError {
  const e = new GatewayError('SERVICE_UNAVAILABLE', "The viewer's state is unavailable right now; try again shortly.");
  Object.assign(e, { reason, ...(cause !== undefined ? { cause } : {}) });
  return e;
}
