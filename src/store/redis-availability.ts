import { randomBytes } from 'node:crypto';
import type { DatasetInfo } from '../content';
import type { Logger } from '../telemetry/logger';
import { CircuitBreaker } from './breaker';
import type { RedisClient } from './connection';
import type { EmbeddedStore } from './embedded';
import { FORMAT, type KeyLayout } from './keys';
import type { Meta } from './redis-content';
import type { SeedData, StoreHealth } from './store';

/** A re-seed lock outlives a gateway that died while holding it by at most this long. */
const SEED_LOCK_MS = 120_000;

/** What the availability logic needs of the Redis store it serves. */
export interface AvailabilityHost {
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  readonly logger: Logger | null;
  /** The in-process replica, if any. */
  replica(): EmbeddedStore | null;
  /** Redis holds other content than the replica: the replica no longer stands in for it. */
  dropReplica(): void;
  /** Reads `meta` (null when absent or undecodable). */
  readMeta(): Promise<Meta | null>;
  /** Redis holds `held` and the store has no replica to compare it with: serve what Redis holds. */
  follow(held: DatasetInfo | null): void;
  /** Writes a whole corpus into Redis (its own connection). */
  seed(data: SeedData): Promise<void>;
  /** Bounds a call by the store's command deadline. */
  deadline<T>(promise: Promise<T>): Promise<T>;
}

/**
 * Whether the Redis store may call Redis, and what it does when Redis fails. Commands time out quickly; a circuit
 * breaker stops calling a Redis that keeps failing (or whose connection dropped) and probes it once per cool-down.
 * After any reconnect the content is checked before Redis is trusted again: a Redis that restarted empty is re-seeded
 * from the replica in the background (one gateway at a time, under a lock), and served from memory until that is done.
 */
export class RedisAvailability {
  readonly breaker: CircuitBreaker;
  /** Redis is known to hold the content being served, since the last (re)connect. */
  private verified = false;
  /** The connection dropped since it was last verified. */
  private lost = false;
  private verifying: Promise<void> | null = null;
  private reseeding: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private degradedSince: number | null = null;
  private closed = false;

  constructor(
    private readonly host: AvailabilityHost,
    breaker?: { readonly failureThreshold?: number; readonly cooldownMs?: number },
  ) {
    this.breaker = new CircuitBreaker(breaker);
  }

  get isVerified(): boolean {
    return this.verified;
  }

  /** Redis answers and holds the content (after connecting or seeding). */
  trusted(): void {
    this.verified = true;
    this.lost = false;
    // Failed attempts before this (Redis still starting) tripped the circuit: it answers now.
    this.breaker.recordSuccess();
  }

  /** Whether a call may go to Redis now; kicks off the one probe when the circuit's cool-down has passed. */
  usable(): boolean {
    if (this.closed) return false;
    if (this.verified && this.breaker.allowsCalls) return true;
    this.maybeProbe();
    return false;
  }

  maybeProbe(): void {
    if (this.breaker.tryProbe()) void this.verify().catch(() => {});
  }

  succeeded(): void {
    if (this.breaker.recordSuccess() !== 'closed') this.host.logger?.info('Redis answers again; serving from it');
  }

  failed(err: unknown): void {
    const reason = describe(err);
    // Logged when the circuit first opens, not on every failed probe of a Redis that stays down.
    const wasClosed = this.breaker.state === 'closed';
    if (this.breaker.recordFailure(reason) && wasClosed) {
      const replica = !!this.host.replica();
      this.host.logger?.warn({ reason, retryInMs: this.breaker.cooldownMs, replica }, replica ? 'Redis unavailable: serving from memory, uncached' : 'Redis unavailable: failing fast');
    }
  }

  connectionLost(): void {
    if (this.closed) return;
    this.lost = true;
    this.verified = false;
    if (this.breaker.trip('the connection to Redis was lost')) {
      const replica = !!this.host.replica();
      this.host.logger?.warn({ replica }, replica ? 'lost the connection to Redis: serving from memory, uncached' : 'lost the connection to Redis');
    }
  }

  /** After the connection came back: check the content again before trusting it. */
  connectionReady(): void {
    if (this.lost) void this.verify().catch(() => {});
  }

  /**
   * Checks that Redis holds the content being served (one GET of `meta`): after a reconnect, and as the breaker's
   * probe. A Redis that lost it (restarted without persistence, flushed) is re-seeded from the replica. Otherwise the
   * store follows what Redis holds: nothing (no replica) fails reads saying so; other content is served.
   */
  verify(): Promise<void> {
    this.verifying ??= this.checkContent().finally(() => (this.verifying = null));
    return this.verifying;
  }

  private async checkContent(): Promise<void> {
    let meta: Meta | null;
    try {
      meta = await this.host.deadline(this.host.readMeta());
    } catch (err) {
      this.failed(err);
      throw err;
    }
    this.succeeded();
    const held = meta && meta.format === FORMAT ? meta.info : null;
    const expected = (await this.host.replica()?.datasetInfo()) ?? null;
    if (expected && !held) {
      this.verified = false;
      this.startReseed();
      return;
    }
    if (expected && held && held.fingerprint !== expected.fingerprint) {
      // Someone seeded other content on purpose (`npm run seed`): follow Redis rather than fight over it. The replica
      // holds the old corpus now, so it no longer stands in for Redis.
      this.host.logger?.warn({ held: held.fingerprint, replica: expected.fingerprint }, 'Redis now holds other content: serving it; the in-process replica is dropped');
      this.host.dropReplica();
    }
    if (!this.host.replica()) this.host.follow(held);
    this.verified = true;
    this.lost = false;
  }

  private startReseed(): void {
    if (this.reseeding || this.closed) return;
    const data = this.host.replica()?.exportSeed();
    if (!data) return;
    const { redis, keys, logger } = this.host;
    logger?.warn({ fingerprint: data.info.fingerprint }, 'Redis lost its content (restarted empty?): re-seeding it from memory');
    this.reseeding = (async () => {
      const token = randomBytes(9).toString('base64url');
      const locked = await this.host.deadline(redis.set(keys.seedLock(), token, 'PX', SEED_LOCK_MS, 'NX'));
      if (!locked) {
        // Another gateway is re-seeding: look again after a cool-down.
        this.scheduleVerify();
        return;
      }
      const started = Date.now();
      try {
        await this.host.seed(data);
        logger?.info({ ms: Date.now() - started, posts: data.posts.length }, 're-seeded Redis from memory; serving from it again');
      } finally {
        if ((await redis.get(keys.seedLock()).catch(() => null)) === token) await redis.del(keys.seedLock()).catch(() => {});
      }
    })()
      .catch((err: unknown) => {
        this.failed(err);
        logger?.warn({ reason: describe(err) }, 're-seeding Redis failed; will retry');
        this.scheduleVerify();
      })
      .finally(() => (this.reseeding = null));
  }

  private scheduleVerify(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.verify().catch(() => {});
    }, Math.max(100, this.breaker.cooldownMs));
    this.retryTimer.unref();
  }

  health(): StoreHealth {
    let reason: string | undefined;
    if (this.closed) reason = 'the store is closed';
    else if (this.reseeding) reason = 'Redis lost its content and is being re-seeded; serving from memory, uncached';
    else if (this.breaker.state !== 'closed') {
      const retry = this.breaker.retryInMs;
      reason = `Redis is unavailable (${this.breaker.reason ?? 'unknown'}); ${this.host.replica() ? 'serving from memory, uncached' : 'requests fail'}${retry > 0 ? `; next probe in ${retry} ms` : ''}`;
    } else if (!this.verified) reason = 'reconnected to Redis; checking that it still holds the content';
    else if (this.breaker.consecutiveFailures > 0) reason = `a Redis call failed (${this.breaker.reason ?? 'unknown'})`;
    if (!reason) {
      this.degradedSince = null;
      return { degraded: false };
    }
    this.degradedSince ??= Date.now();
    return { degraded: true, reason, since: this.degradedSince };
  }

  /** Stops probing; resolves once a re-seed in progress has finished. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.reseeding?.catch(() => {});
  }
}

export function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}
