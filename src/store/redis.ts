import { type RedisOptions } from 'ioredis';
import type { Community, DatasetInfo, Post } from '../content';
import { withDeadline } from '../deadline';
import { GatewayError } from '../errors';
import { parseRedisTarget, type RedisTarget } from '../redis-url';
import type { Logger } from '../telemetry/logger';
import { createRedisClient, RoundTripCounter, type RedisClient } from './connection';
import type { EmbeddedStore } from './embedded';
import { FORMAT, KeyLayout } from './keys';
import { describe, RedisAvailability } from './redis-availability';
import { packr, removeKeys, tableOf, writeContent, type Meta } from './redis-content';
import { RedisFeatureIndex } from './redis-feature-index';
import { RedisFeatureLog } from './redis-feature-log';
import { gated, RedisViewerState, type RedisGate } from './redis-viewers';
import type { FeatureLogStore, SeedData, Store, StoreHealth, StoreStats, ViewerStateStore } from './store';

export interface RedisStoreOptions {
  /** `redis://`, `rediss://`, or `redis+cluster://host:port,host:port` for a Redis Cluster. */
  readonly url: string;
  /** Every key this store writes or reads starts with it. @default "rg:" */
  readonly keyPrefix?: string;
  /**
   * How long a store call waits on Redis while serving, so a hung Redis costs a request this long at most before it
   * is served from the replica (or fails). Seeding uses its own connection without it. @default 250
   */
  readonly commandTimeoutMs?: number;
  /** After `failureThreshold` consecutive failed calls, stop calling Redis for `cooldownMs`, then probe once. */
  readonly breaker?: { readonly failureThreshold?: number; readonly cooldownMs?: number };
  /** The in-process feature index in front of Redis. `maxPosts: 0` turns it off. @default 100,000 posts for 10 minutes */
  readonly featureIndex?: { readonly maxPosts?: number; readonly ttlMs?: number };
  /**
   * The same content in process memory (an embedded store seeded with the corpus Redis was seeded from). With it,
   * reads are served from memory while Redis is unavailable, and a Redis that comes back empty is re-seeded from it.
   * Without it, reads fail with SERVICE_UNAVAILABLE while Redis is unavailable.
   */
  readonly replica?: EmbeddedStore;
  readonly logger?: Logger;
  /** Extra ioredis options (tests use them to shorten retries). */
  readonly redisOptions?: RedisOptions;
}

/**
 * The Redis backend (REDIS_URL set): one Redis or a Redis Cluster. The key layout is in keys.ts.
 *
 * Round trips. The client auto-pipelines: every command the store (or anything sharing `redis`) issues in one
 * event-loop turn goes out as one pipeline per node. Reads are written to exploit it: the posts of a batch are one
 * MGET per shard, the indexes one ZRANGE each, all issued together, so a batch is one round trip on one Redis (one per
 * node touched on a cluster) however many keys it has. Round trips are counted at the connection (`stats()`).
 *
 * Feature index (redis-feature-index.ts). Posts read once are kept in process for a while, and the community table
 * whole, so a batch asks Redis only for what it lacks.
 *
 * Failures (redis-availability.ts). Commands time out quickly (`commandTimeoutMs`) and a circuit breaker stops calling
 * a Redis that keeps failing. While Redis is unavailable, content reads are served from the replica (when there is
 * one), snapshot writes go to the replica's in-process snapshot cache instead of being lost, viewer state and the
 * feature log stand aside, and `health()` says the store is degraded. A Redis that restarted empty is re-seeded from
 * the replica.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  /** The serving connection (shared with other Redis-backed state, which then rides the same pipelines). */
  readonly redis: RedisClient;
  readonly keys: KeyLayout;
  private readonly target: RedisTarget;
  private readonly opts: RedisStoreOptions;
  private readonly commandTimeoutMs: number;
  private readonly counter = new RoundTripCounter();
  private readonly availability: RedisAvailability;
  private readonly index: RedisFeatureIndex;
  private replica: EmbeddedStore | null;
  private readonly logger: Logger | null;
  readonly viewers: ViewerStateStore;
  readonly featureLog: FeatureLogStore;

  private info: DatasetInfo | null = null;
  private infoLoaded = false;


  private replicaReads = 0;

  constructor(opts: RedisStoreOptions) {
    this.opts = opts;
    this.target = parseRedisTarget(opts.url);
    this.keys = new KeyLayout(opts.keyPrefix ?? 'rg:');
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 250;
    this.replica = opts.replica ?? null;
    this.logger = opts.logger ?? null;
    this.redis = createRedisClient(this.target, {
      commandTimeout: this.commandTimeoutMs * 2,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      lazyConnect: true,
      enableAutoPipelining: true,
      // A single server: fail at once while disconnected instead of queueing behind a dead socket. (A cluster keeps
      // its queue, which it needs while it learns the topology; the store's own deadline bounds the wait there.)
      ...(this.target.kind === 'standalone' ? { enableOfflineQueue: false } : {}),
      ...opts.redisOptions,
    });
    this.counter.attach(this.redis);
    this.index = new RedisFeatureIndex(this.redis, this.keys, () => this.info?.fingerprint ?? null, opts.featureIndex);
    this.availability = new RedisAvailability(
      {
        redis: this.redis,
        keys: this.keys,
        logger: this.logger,
        replica: () => this.replica,
        dropReplica: () => (this.replica = null),
        readMeta: () => this.readMeta(),
        follow: (held) => {
          this.setInfo(held);
          this.infoLoaded = true;
        },
        seed: (data) => this.seed(data),
        deadline: (promise) => this.deadline(promise),
      },
      opts.breaker,
    );
    // Viewer state and the feature log ride the serving connection (and its auto-pipelining), under the same command
    // deadline as content reads, and fail at once while the store is degraded.
    const gate: RedisGate = { redis: this.redis, keys: this.keys, call: (fn) => gated(() => this.health().reason ?? null, () => this.deadline(fn())) };
    this.viewers = new RedisViewerState(gate);
    this.featureLog = new RedisFeatureLog(gate);
    // Without a listener ioredis prints every reconnect error; failures surface through commands instead.
    this.redis.on('error', () => {});
    this.redis.on('close', () => this.availability.connectionLost());
    this.redis.on('ready', () => this.availability.connectionReady());
  }

  /** Uses `replica` for reads while Redis is unavailable and to re-seed a Redis that lost its content. */
  setReplica(replica: EmbeddedStore | null): void {
    this.replica = replica;
  }

  /** Empties the in-process feature index (posts; the community table stays): the next reads go to Redis. */
  dropFeatureIndex(): void {
    this.index.dropPosts();
  }

  /** Connects and reads which content is being served. Fails with SERVICE_UNAVAILABLE when Redis does not answer. */
  async connect(): Promise<void> {
    await this.direct(async () => {
      if (this.redis.status === 'wait') await this.redis.connect();
      await this.redis.ping();
    });
    await this.datasetInfo();
    this.availability.trusted();
    // The community table is needed by every request: load it now rather than on the first one.
    if (this.info) await this.index.loadTable(this.info.fingerprint).catch(() => {});
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads

  async getPosts(ids: readonly string[]): Promise<(Post | null)[]> {
    if (ids.length === 0) return [];
    return this.index.getPosts(ids, (missing) =>
      this.read(
        (fp) => this.index.fetchPosts(fp, missing),
        (r) => r.getPosts(missing),
      ),
    );
  }

  async getCommunities(names: readonly string[]): Promise<(Community | null)[]> {
    if (names.length === 0) return [];
    return this.read(
      async (fp) => {
        const table = await this.index.communityTable(fp);
        return names.map((n) => table.byName.get(n) ?? null);
      },
      (r) => r.getCommunities(names),
    );
  }

  async listCommunities(): Promise<Community[]> {
    return this.read(
      async (fp) => (await this.index.communityTable(fp)).list.slice(),
      (r) => r.listCommunities(),
    );
  }

  async readIndexes(names: readonly string[], limit: number): Promise<string[][]> {
    if (names.length === 0 || limit <= 0) return names.map(() => []);
    return this.read(
      // One ZRANGE per index, issued together: one pipeline (all indexes share the `{c:F}` tag, so one node).
      (fp) => Promise.all(names.map((n) => this.redis.zrange(this.keys.index(fp, n), 0, String(limit - 1), 'REV'))),
      (r) => r.readIndexes(names, limit),
    );
  }

  /**
   * Snapshot reads never fail: while Redis is unavailable they miss (or find a list cached in memory during the
   * outage). A snapshot not in Redis may still be in the replica's memory: written there while Redis was down.
   */
  async getSnapshot(key: string): Promise<Uint8Array | null> {
    if (this.availability.usable()) {
      try {
        const buf = await this.deadline(this.redis.getBuffer(this.keys.snapshot(key)));
        this.availability.succeeded();
        if (buf) return buf;
      } catch (err) {
        this.availability.failed(err);
      }
    }
    return this.replica ? this.replica.getSnapshot(key) : null;
  }

  /** Snapshot writes never fail: while Redis is unavailable the list is kept in the replica's memory (or dropped). */
  async putSnapshot(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void> {
    if (this.availability.usable()) {
      try {
        await this.deadline(this.redis.set(this.keys.snapshot(key), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds));
        this.availability.succeeded();
        return;
      } catch (err) {
        this.availability.failed(err);
      }
    }
    await this.replica?.putSnapshot(key, bytes, ttlSeconds);
  }

  async datasetInfo(): Promise<DatasetInfo | null> {
    if (!this.infoLoaded) {
      const meta = await this.direct(() => this.readMeta());
      this.setInfo(meta && meta.format === FORMAT ? meta.info : null);
      this.infoLoaded = true;
    }
    return this.info ?? (await this.replica?.datasetInfo()) ?? null;
  }

  private async readMeta(): Promise<Meta | null> {
    const buf = await this.redis.getBuffer(this.keys.meta());
    if (!buf) return null;
    try {
      return packr.unpack(buf) as Meta;
    } catch {
      this.index.decodeErrors++;
      return null;
    }
  }

  private setInfo(info: DatasetInfo | null): void {
    if (info?.fingerprint !== this.info?.fingerprint) this.index.reset();
    this.info = info;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Availability (redis-availability.ts)

  /**
   * Runs a content read against Redis when it is usable, else (or when it fails) against the replica. Without a
   * replica a failure is SERVICE_UNAVAILABLE, and an open circuit fails at once instead of waiting on a dead Redis.
   */
  private async read<T>(primary: (fingerprint: string) => Promise<T>, fromReplica: (r: EmbeddedStore) => Promise<T>): Promise<T> {
    const { availability } = this;
    if (!this.replica) {
      if (!availability.breaker.allowsCalls) {
        availability.maybeProbe();
        throw unavailable(availability.breaker.reason);
      }
      if (!availability.isVerified) await availability.verify().catch((err: unknown) => Promise.reject(unavailable(describe(err), err)));
    }
    if (availability.usable() || !this.replica) {
      const fp = this.info?.fingerprint;
      if (!fp) {
        if (!this.replica) throw new GatewayError('SERVICE_UNAVAILABLE', 'The Redis store holds no dataset: run `npm run seed` or start with SEED_ON_START=true.');
      } else {
        try {
          const value = await this.deadline(primary(fp));
          availability.succeeded();
          return value;
        } catch (err) {
          availability.failed(err);
          if (!this.replica) throw unavailable(describe(err), err);
        }
      }
    }
    this.replicaReads++;
    return fromReplica(this.replica!);
  }

  health(): StoreHealth {
    return this.availability.health();
  }

  stats(): StoreStats {
    return {
      roundTrips: this.counter.roundTrips,
      roundTripsByCommand: this.counter.breakdown(),
      featureIndex: { hits: this.index.hits, misses: this.index.misses, size: this.index.size },
      decodeErrors: this.index.decodeErrors,
      replicaReads: this.replicaReads,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Seeding

  async seed(data: SeedData): Promise<void> {
    const previous = await this.direct(() => this.readMeta());
    // Seeding sends millions of members: a dedicated connection without the serving command timeout, so a large
    // pipeline is not cut off halfway, while the serving connection keeps its short timeout.
    const writer = createRedisClient(this.target, { ...this.opts.redisOptions, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
    writer.on('error', () => {});
    try {
      await this.direct(async () => {
        await writer.connect();
        await writeContent(writer, this.keys, data);
      });
      this.setInfo(data.info);
      this.infoLoaded = true;
      this.index.keepTable(tableOf(data.info.fingerprint, data.communities));
      this.availability.trusted();
      if (previous && previous.format !== FORMAT) await removeKeys(writer, this.keys.legacyContentPattern());
      else if (previous && previous.info.fingerprint !== data.info.fingerprint) await removeKeys(writer, this.keys.contentPattern(previous.info.fingerprint));
    } finally {
      writer.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.availability.close();
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * Bounds a store call by the command timeout (src/deadline.ts: a gateway whose event loop was blocked by ranking
   * does not blame Redis for its own lag). ioredis's own command timeout is twice this: a backstop for other users of
   * the connection.
   */
  private deadline<T>(promise: Promise<T>): Promise<T> {
    return withDeadline(() => promise, this.commandTimeoutMs, { error: (ms) => new Error(`no answer from Redis within ${ms} ms`) });
  }

  /** Runs an administrative Redis call (connect, seed), turning failures into SERVICE_UNAVAILABLE. */
  private async direct<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw unavailable(describe(err), err);
    }
  }
}

function unavailable(reason: string | null, cause?: unknown): GatewayError {
  const e = new GatewayError('SERVICE_UNAVAILABLE', 'The feature store (Redis) did not answer; try again shortly.');
  if (reason) (e as { reason?: string }).reason = reason;
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}
