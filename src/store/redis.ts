import { randomBytes } from 'node:crypto';
import { Cluster, type ChainableCommander, type Redis, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Packr } from 'msgpackr';
import type { Community, DatasetInfo, Post } from '../content';
import { GatewayError } from '../errors';
import type { Logger } from '../telemetry/logger';
import { CircuitBreaker } from './breaker';
import { createRedisClient, parseRedisTarget, RoundTripCounter, type RedisClient, type RedisTarget } from './connection';
import type { EmbeddedStore } from './embedded';
import { FORMAT, KeyLayout, postShard } from './keys';
import type { SeedData, Store, StoreHealth, StoreStats } from './store';

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
 * Posts are packed as positional tuples rather than maps: 98k posts then take about half the bytes, and decoding
 * a tuple is cheaper. The order is part of the stored format (keys.ts FORMAT).
 */
const packr = new Packr({ useRecords: false });

type PostTuple = [string, string, string | null, string | null, number, number, number, number, number, string | null, boolean, boolean];

const packPost = (p: Post): Buffer =>
  packr.pack([p.community, p.title, p.url, p.permalink, p.score, p.ups, p.downs, p.numComments, p.createdUtc, p.domain, p.over18, p.isSelf] satisfies PostTuple);

function unpackPost(id: string, buf: Buffer): Post {
  const t = packr.unpack(buf) as unknown;
  if (!Array.isArray(t) || t.length !== 12 || typeof t[0] !== 'string' || typeof t[1] !== 'string') throw new Error('not a post tuple');
  const [community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf] = t as PostTuple;
  return { id, community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf };
}

interface Meta {
  readonly format: number;
  readonly info: DatasetInfo;
}

interface CommunityTable {
  readonly fingerprint: string;
  readonly list: Community[];
  readonly byName: ReadonlyMap<string, Community>;
  readonly loadedAt: number;
}

/**
 * Work per pipeline while seeding, counted in keys and sorted-set members: large enough to amortise round trips,
 * small enough that no single pipeline keeps Redis busy for long (others are being served meanwhile).
 */
const SEED_PIPELINE_WEIGHT = 20_000;
/** Members per ZADD while seeding. */
const ZADD_CHUNK = 1000;
/** A deadline timer firing this much later than due means the event loop was blocked, not that Redis was slow. */
const LOOP_LAG_GRACE_MS = 20;
/** A re-seed lock outlives a gateway that died while holding it by at most this long. */
const SEED_LOCK_MS = 120_000;

/**
 * The Redis backend (REDIS_URL set): one Redis or a Redis Cluster. The key layout is in keys.ts.
 *
 * Round trips. The client auto-pipelines: every command the store (or anything sharing `redis`) issues in one
 * event-loop turn goes out as one pipeline per node. Reads are written to exploit it: the posts of a batch are one
 * MGET per shard, the indexes one ZRANGE each, all issued together, so a batch is one round trip on one Redis (one per
 * node touched on a cluster) however many keys it has. Round trips are counted at the connection (`stats()`).
 *
 * Feature index. Posts read from Redis are kept in a bounded in-process LRU with a TTL; a batch asks Redis only for
 * the posts the LRU lacks, in one round trip. The community table is small (one entry per community) and is kept
 * whole, loaded at connect and refreshed in the background when its TTL passes, so communities never cost a round
 * trip on a request. Content never changes under a fingerprint, so neither can serve stale data; the TTL bounds how
 * long a post read once stays in memory. A stored item that does not decode reads as absent, never failing its batch.
 *
 * Failures. Commands time out quickly (`commandTimeoutMs`); a circuit breaker stops calling a Redis that keeps failing
 * (or whose connection dropped) and probes it once per cool-down. While Redis is unavailable, content reads are served
 * from the replica (when there is one), snapshot writes go to the replica's in-process snapshot cache instead of being
 * lost, and `health()` says the store is degraded. After any reconnect the store checks that Redis still holds the
 * content before trusting it again: a Redis that restarted empty is re-seeded from the replica in the background (one
 * gateway at a time, under a lock), and served from memory until that is done.
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
  private readonly breaker: CircuitBreaker;
  private readonly posts: LRUCache<string, Post> | null;
  private readonly featureTtlMs: number;
  private replica: EmbeddedStore | null;
  private readonly logger: Logger | null;

  private info: DatasetInfo | null = null;
  private infoLoaded = false;
  private table: CommunityTable | null = null;
  private tableLoading: Promise<CommunityTable> | null = null;

  /** Redis is known to hold the content being served, since the last (re)connect. */
  private verified = false;
  /** The connection dropped since it was last verified. */
  private lost = false;
  private verifying: Promise<void> | null = null;
  private reseeding: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private degradedSince: number | null = null;
  private closed = false;

  private hits = 0;
  private misses = 0;
  private decodeErrors = 0;
  private replicaReads = 0;

  constructor(opts: RedisStoreOptions) {
    this.opts = opts;
    this.target = parseRedisTarget(opts.url);
    this.keys = new KeyLayout(opts.keyPrefix ?? 'rg:');
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 250;
    this.breaker = new CircuitBreaker(opts.breaker);
    this.replica = opts.replica ?? null;
    this.logger = opts.logger ?? null;
    const maxPosts = opts.featureIndex?.maxPosts ?? 100_000;
    this.featureTtlMs = opts.featureIndex?.ttlMs ?? 600_000;
    this.posts = maxPosts > 0 ? new LRUCache<string, Post>({ max: maxPosts, ttl: this.featureTtlMs, ttlAutopurge: false }) : null;
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
    // Without a listener ioredis prints every reconnect error; failures surface through commands instead.
    this.redis.on('error', () => {});
    this.redis.on('close', () => this.connectionLost());
    this.redis.on('ready', () => {
      if (this.lost) void this.verify().catch(() => {});
    });
  }

  /** Uses `replica` for reads while Redis is unavailable and to re-seed a Redis that lost its content. */
  setReplica(replica: EmbeddedStore | null): void {
    this.replica = replica;
  }

  /** Empties the in-process feature index (posts; the community table stays): the next reads go to Redis. */
  dropFeatureIndex(): void {
    this.posts?.clear();
  }

  /** Connects and reads which content is being served. Fails with SERVICE_UNAVAILABLE when Redis does not answer. */
  async connect(): Promise<void> {
    await this.direct(async () => {
      if (this.redis.status === 'wait') await this.redis.connect();
      await this.redis.ping();
    });
    await this.datasetInfo();
    this.verified = true;
    this.lost = false;
    // Failed attempts before this connection (Redis still starting) tripped the circuit: it answers now.
    this.breaker.recordSuccess();
    // The community table is needed by every request: load it now rather than on the first one.
    if (this.info) await this.loadTable(this.info.fingerprint).catch(() => {});
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reads

  async getPosts(ids: readonly string[]): Promise<(Post | null)[]> {
    if (ids.length === 0) return [];
    const out: (Post | null)[] = new Array<Post | null>(ids.length).fill(null);
    const wanted = new Map<string, number[]>();
    ids.forEach((id, i) => {
      const hit = this.posts?.get(id);
      if (hit) {
        this.hits++;
        out[i] = hit;
        return;
      }
      const at = wanted.get(id);
      if (at) at.push(i);
      else wanted.set(id, [i]);
    });
    if (wanted.size === 0) return out;
    const missing = [...wanted.keys()];
    this.misses += missing.length;
    const found = await this.read(
      (fp) => this.fetchPosts(fp, missing),
      (r) => r.getPosts(missing),
    );
    missing.forEach((id, j) => {
      for (const i of wanted.get(id)!) out[i] = found[j] ?? null;
    });
    return out;
  }

  /** One MGET per post shard, all issued in this turn: the client sends them as one pipeline per node. */
  private async fetchPosts(fp: string, ids: readonly string[]): Promise<(Post | null)[]> {
    const byShard = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const s = postShard(id);
      const list = byShard.get(s);
      if (list) list.push(i);
      else byShard.set(s, [i]);
    });
    const out: (Post | null)[] = new Array<Post | null>(ids.length).fill(null);
    const cacheable = this.info?.fingerprint === fp;
    await Promise.all(
      [...byShard.values()].map(async (positions) => {
        const bufs = await this.redis.mgetBuffer(positions.map((i) => this.keys.post(fp, ids[i]!)));
        positions.forEach((i, j) => {
          const buf = bufs[j];
          if (!buf) return;
          try {
            const post = unpackPost(ids[i]!, buf);
            out[i] = post;
            if (cacheable) this.posts?.set(post.id, post);
          } catch {
            this.decodeErrors++;
          }
        });
      }),
    );
    return out;
  }

  async getCommunities(names: readonly string[]): Promise<(Community | null)[]> {
    if (names.length === 0) return [];
    return this.read(
      async (fp) => {
        const table = await this.communityTable(fp);
        return names.map((n) => table.byName.get(n) ?? null);
      },
      (r) => r.getCommunities(names),
    );
  }

  async listCommunities(): Promise<Community[]> {
    return this.read(
      async (fp) => (await this.communityTable(fp)).list.slice(),
      (r) => r.listCommunities(),
    );
  }

  private async communityTable(fp: string): Promise<CommunityTable> {
    const t = this.table;
    if (t && t.fingerprint === fp) {
      // Past its TTL: answer with it (content under a fingerprint never changes) and refresh it off the request path.
      if (Date.now() - t.loadedAt > this.featureTtlMs && !this.tableLoading) void this.loadTable(fp).catch(() => {});
      return t;
    }
    return this.loadTable(fp);
  }

  private loadTable(fp: string): Promise<CommunityTable> {
    this.tableLoading ??= (async () => {
      const buf = await this.redis.getBuffer(this.keys.communities(fp));
      let list: Community[] = [];
      try {
        const decoded = buf ? (packr.unpack(buf) as unknown) : [];
        if (!Array.isArray(decoded)) throw new Error('not a list');
        list = decoded as Community[];
      } catch {
        this.decodeErrors++;
      }
      const table: CommunityTable = { fingerprint: fp, list, byName: new Map(list.map((c) => [c.name, c])), loadedAt: Date.now() };
      if (this.info?.fingerprint === fp && (buf || !this.table)) this.table = table;
      return table;
    })().finally(() => (this.tableLoading = null));
    return this.tableLoading;
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
    if (this.usable()) {
      try {
        const buf = await this.deadline(this.redis.getBuffer(this.keys.snapshot(key)));
        this.succeeded();
        if (buf) return buf;
      } catch (err) {
        this.failed(err);
      }
    }
    return this.replica ? this.replica.getSnapshot(key) : null;
  }

  /** Snapshot writes never fail: while Redis is unavailable the list is kept in the replica's memory (or dropped). */
  async putSnapshot(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void> {
    if (this.usable()) {
      try {
        await this.deadline(this.redis.set(this.keys.snapshot(key), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds));
        this.succeeded();
        return;
      } catch (err) {
        this.failed(err);
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
      this.decodeErrors++;
      return null;
    }
  }

  private setInfo(info: DatasetInfo | null): void {
    if (info?.fingerprint !== this.info?.fingerprint) {
      this.posts?.clear();
      this.table = null;
    }
    this.info = info;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Availability: the breaker, the replica, and re-verifying content after a reconnect

  /**
   * Runs a content read against Redis when it is usable, else (or when it fails) against the replica. Without a
   * replica a failure is SERVICE_UNAVAILABLE, and an open circuit fails at once instead of waiting on a dead Redis.
   */
  private async read<T>(primary: (fingerprint: string) => Promise<T>, fromReplica: (r: EmbeddedStore) => Promise<T>): Promise<T> {
    if (!this.replica) {
      if (!this.breaker.allowsCalls) {
        this.maybeProbe();
        throw unavailable(this.breaker.reason);
      }
      if (!this.verified) await this.verify();
    }
    if (this.usable() || !this.replica) {
      const fp = this.info?.fingerprint;
      if (!fp) {
        if (!this.replica) throw new GatewayError('SERVICE_UNAVAILABLE', 'The Redis store holds no dataset: run `npm run seed` or start with SEED_ON_START=true.');
      } else {
        try {
          const value = await this.deadline(primary(fp));
          this.succeeded();
          return value;
        } catch (err) {
          this.failed(err);
          if (!this.replica) throw unavailable(describe(err), err);
        }
      }
    }
    this.replicaReads++;
    return fromReplica(this.replica!);
  }

  /** Whether a call may go to Redis now; kicks off the one probe when the circuit's cool-down has passed. */
  private usable(): boolean {
    if (this.closed) return false;
    if (this.verified && this.breaker.allowsCalls) return true;
    this.maybeProbe();
    return false;
  }

  private maybeProbe(): void {
    if (this.breaker.tryProbe()) void this.verify().catch(() => {});
  }

  private succeeded(): void {
    if (this.breaker.recordSuccess() !== 'closed') this.logger?.info('Redis answers again; serving from it');
  }

  private failed(err: unknown): void {
    const reason = describe(err);
    // Logged when the circuit first opens, not on every failed probe of a Redis that stays down.
    const wasClosed = this.breaker.state === 'closed';
    if (this.breaker.recordFailure(reason) && wasClosed) {
      this.logger?.warn({ reason, retryInMs: this.breaker.cooldownMs, replica: !!this.replica }, this.replica ? 'Redis unavailable: serving from memory, uncached' : 'Redis unavailable: failing fast');
    }
  }

  private connectionLost(): void {
    if (this.closed) return;
    this.lost = true;
    this.verified = false;
    if (this.breaker.trip('the connection to Redis was lost')) {
      this.logger?.warn({ replica: !!this.replica }, this.replica ? 'lost the connection to Redis: serving from memory, uncached' : 'lost the connection to Redis');
    }
  }

  /**
   * Checks that Redis holds the content being served (one GET of `meta`): after a reconnect, and as the breaker's
   * probe. A Redis that lost it (restarted without persistence, flushed) is re-seeded from the replica. Otherwise the
   * store follows what Redis holds: nothing (no replica) fails reads saying so; other content is served.
   */
  private verify(): Promise<void> {
    this.verifying ??= this.checkContent().finally(() => (this.verifying = null));
    return this.verifying;
  }

  private async checkContent(): Promise<void> {
    let meta: Meta | null;
    try {
      meta = await this.deadline(this.readMeta());
    } catch (err) {
      this.failed(err);
      throw unavailable(describe(err), err);
    }
    this.succeeded();
    const held = meta && meta.format === FORMAT ? meta.info : null;
    const expected = this.replica ? await this.replica.datasetInfo() : null;
    if (expected && !held) {
      this.verified = false;
      this.startReseed();
      return;
    }
    if (expected && held && held.fingerprint !== expected.fingerprint) {
      // Someone seeded other content on purpose (`npm run seed`): follow Redis rather than fight over it. The replica
      // holds the old corpus now, so it no longer stands in for Redis.
      this.logger?.warn({ held: held.fingerprint, replica: expected.fingerprint }, 'Redis now holds other content: serving it; the in-process replica is dropped');
      this.replica = null;
    }
    if (!this.replica) this.setInfo(held);
    this.infoLoaded = true;
    this.verified = true;
    this.lost = false;
  }

  private startReseed(): void {
    if (this.reseeding || this.closed) return;
    const data = this.replica?.exportSeed();
    if (!data) return;
    this.logger?.warn({ fingerprint: data.info.fingerprint }, 'Redis lost its content (restarted empty?): re-seeding it from memory');
    this.reseeding = (async () => {
      const token = randomBytes(9).toString('base64url');
      const locked = await this.deadline(this.redis.set(this.keys.seedLock(), token, 'PX', SEED_LOCK_MS, 'NX'));
      if (!locked) {
        // Another gateway is re-seeding: look again after a cool-down.
        this.scheduleVerify();
        return;
      }
      const started = Date.now();
      try {
        await this.seed(data);
        this.logger?.info({ ms: Date.now() - started, posts: data.posts.length }, 're-seeded Redis from memory; serving from it again');
      } finally {
        if ((await this.redis.get(this.keys.seedLock()).catch(() => null)) === token) await this.redis.del(this.keys.seedLock()).catch(() => {});
      }
    })()
      .catch((err: unknown) => {
        this.failed(err);
        this.logger?.warn({ reason: describe(err) }, 're-seeding Redis failed; will retry');
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
      reason = `Redis is unavailable (${this.breaker.reason ?? 'unknown'}); ${this.replica ? 'serving from memory, uncached' : 'requests fail'}${retry > 0 ? `; next probe in ${retry} ms` : ''}`;
    } else if (!this.verified) reason = 'reconnected to Redis; checking that it still holds the content';
    else if (this.breaker.consecutiveFailures > 0) reason = `a Redis call failed (${this.breaker.reason ?? 'unknown'})`;
    if (!reason) {
      this.degradedSince = null;
      return { degraded: false };
    }
    this.degradedSince ??= Date.now();
    return { degraded: true, reason, since: this.degradedSince };
  }

  stats(): StoreStats {
    return {
      roundTrips: this.counter.roundTrips,
      roundTripsByCommand: this.counter.breakdown(),
      featureIndex: { hits: this.hits, misses: this.misses, size: this.posts?.size ?? 0 },
      decodeErrors: this.decodeErrors,
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
      this.table = tableOf(data);
      this.verified = true;
      this.lost = false;
      if (previous && previous.format !== FORMAT) await removeKeys(writer, this.keys.legacyContentPattern());
      else if (previous && previous.info.fingerprint !== data.info.fingerprint) await removeKeys(writer, this.keys.contentPattern(previous.info.fingerprint));
    } finally {
      writer.disconnect();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.reseeding?.catch(() => {});
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * Bounds a store call by the command timeout, without blaming Redis for the gateway's own lag. Ranking can block
   * the event loop for longer than the timeout; when it frees, timers run before the replies waiting in the socket are
   * read (and auto-pipelined commands may not even have been sent). A plain timer would then fail calls Redis answered
   * in time, open the circuit, and add uncached work to a gateway already short of CPU. So a deadline that fires late
   * (the loop was blocked) grants one more period, and an expired one fails the call only after the poll phase has
   * read the socket (setImmediate). ioredis's own command timeout is twice this: a backstop for other users of the
   * connection.
   */
  private deadline<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const ms = this.commandTimeoutMs;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        const arm = (graceLeft: boolean) => {
          const due = performance.now() + ms;
          timer = setTimeout(() => {
            if (graceLeft && performance.now() - due > LOOP_LAG_GRACE_MS) return arm(false);
            immediate = setImmediate(() => reject(new Error(`no answer from Redis within ${ms} ms`)));
          }, ms);
        };
        arm(true);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    });
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

function tableOf(data: SeedData): CommunityTable {
  const list = [...data.communities].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fingerprint: data.info.fingerprint, list, byName: new Map(list.map((c) => [c.name, c])), loadedAt: Date.now() };
}

/**
 * Writes one corpus beside whatever is there and then flips `meta` to it. Commands are grouped by hash tag, so every
 * pipeline stays within one slot (a cluster requirement; harmless on one server).
 */
async function writeContent(writer: RedisClient, keys: KeyLayout, data: SeedData): Promise<void> {
  const fp = data.info.fingerprint;
  const pending = new Map<string, { pipeline: ChainableCommander; weight: number }>();
  const flush = async (tag: string) => {
    const entry = pending.get(tag);
    if (!entry) return;
    pending.delete(tag);
    const results = await entry.pipeline.exec();
    for (const [err] of results ?? []) if (err) throw err;
  };
  const add = async (tag: string, weight: number, fn: (p: ChainableCommander) => void) => {
    let entry = pending.get(tag);
    if (!entry) pending.set(tag, (entry = { pipeline: writer.pipeline(), weight: 0 }));
    fn(entry.pipeline);
    entry.weight += weight;
    if (entry.weight >= SEED_PIPELINE_WEIGHT) await flush(tag);
  };
  for (const p of data.posts) await add(`p${postShard(p.id)}`, 1, (pl) => pl.set(keys.post(fp, p.id), packPost(p)));
  const communities = [...data.communities].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await add('c', 1, (pl) => pl.set(keys.communities(fp), packr.pack(communities)));
  for (const [name, entries] of data.indexes) {
    const key = keys.index(fp, name);
    await add('c', 1, (pl) => pl.del(key));
    for (let i = 0; i < entries.length; i += ZADD_CHUNK) {
      const args: (string | number)[] = [];
      for (const e of entries.slice(i, i + ZADD_CHUNK)) args.push(e.score, e.id);
      await add('c', args.length / 2, (pl) => pl.zadd(key, ...args));
    }
  }
  for (const tag of [...pending.keys()]) await flush(tag);
  // The flip: readers switch to the new content with this one SET.
  await writer.set(keys.meta(), packr.pack({ format: FORMAT, info: data.info } satisfies Meta));
}

/**
 * Deletes every key matching `pattern` with SCAN + UNLINK in batches (never KEYS, which blocks Redis), on every
 * master of a cluster. One key per UNLINK: a batch of SCAN results spans slots, and a multi-key UNLINK may not.
 */
async function removeKeys(client: RedisClient, pattern: string): Promise<void> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    const stream = node.scanStream({ match: pattern, count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      if (batch.length === 0) continue;
      const p = node.pipeline();
      for (const key of batch) p.unlink(key);
      await p.exec();
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof GatewayError) return err.message;
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}

function unavailable(reason: string | null, cause?: unknown): GatewayError {
  const e = new GatewayError('SERVICE_UNAVAILABLE', 'The feature store (Redis) did not answer; try again shortly.');
  if (reason) (e as { reason?: string }).reason = reason;
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}
