import { Redis, type RedisOptions } from 'ioredis';
import { Packr } from 'msgpackr';
import type { Community, DatasetInfo, Post } from '../content';
import { GatewayError } from '../errors';
import type { SeedData, Store } from './store';

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL. */
  readonly url: string;
  /** Every key this store writes or reads starts with it. @default "rg:" */
  readonly keyPrefix?: string;
  /** Per-command timeout, so a hung Redis fails a request instead of holding it. @default 2000 */
  readonly commandTimeoutMs?: number;
  /** Extra ioredis options (tests use them to shorten retries). */
  readonly redisOptions?: RedisOptions;
}

/**
 * Posts are packed as positional tuples rather than maps: 98k posts then take about half the bytes, and decoding
 * a tuple is cheaper. The order is part of the stored format: bump FORMAT when it changes.
 */
const FORMAT = 1;
const packr = new Packr({ useRecords: false });

type PostTuple = [string, string, string | null, string | null, number, number, number, number, number, string | null, boolean, boolean];

const packPost = (p: Post): Buffer =>
  packr.pack([p.community, p.title, p.url, p.permalink, p.score, p.ups, p.downs, p.numComments, p.createdUtc, p.domain, p.over18, p.isSelf] satisfies PostTuple);

function unpackPost(id: string, buf: Buffer): Post {
  const [community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf] = packr.unpack(buf) as PostTuple;
  return { id, community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf };
}

/**
 * Work per pipeline while seeding, counted in keys and sorted-set members: large enough to amortise round trips,
 * small enough that no single pipeline keeps Redis busy for long (others are being served meanwhile).
 */
const SEED_PIPELINE_WEIGHT = 20_000;
/** Members per ZADD while seeding. */
const ZADD_CHUNK = 1000;

/**
 * The Redis backend (REDIS_URL set).
 *
 * Layout (P = key prefix, F = the dataset fingerprint):
 *   P meta                  the DatasetInfo of the content being served (msgpack)
 *   P c:F:post:<id>         a post (msgpack tuple)
 *   P c:F:community:<name>  a community (msgpack)
 *   P c:F:communities       every community (msgpack list)
 *   P c:F:idx:<name>        a sorted index (ZSET, member = id, score = sort key)
 *   P snap:<key>            a ranked snapshot (opaque bytes, with a TTL)
 *
 * Content lives under its fingerprint, so reseeding with other data never mixes two corpora: the new content is
 * written beside the old, `meta` flips to it in one SET, and the old content is then removed by SCAN (never KEYS).
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private readonly prefix: string;
  private info: DatasetInfo | null = null;
  private infoLoaded = false;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.keyPrefix ?? 'rg:';
    this.redis = new Redis(opts.url, {
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      lazyConnect: true,
      ...opts.redisOptions,
    });
    // Without a listener ioredis prints every reconnect error; failures surface through commands instead.
    this.redis.on('error', () => {});
  }

  /** Connects and reads which content is being served. Fails with SERVICE_UNAVAILABLE when Redis does not answer. */
  async connect(): Promise<void> {
    await this.call(async () => {
      if (this.redis.status === 'wait') await this.redis.connect();
      await this.redis.ping();
    });
    await this.datasetInfo();
  }

  private contentKey(kind: string, name = ''): string {
    if (!this.info) throw new GatewayError('SERVICE_UNAVAILABLE', 'The Redis store holds no dataset: run `npm run seed` or start with SEED_ON_START=true.');
    return `${this.prefix}c:${this.info.fingerprint}:${kind}${name}`;
  }

  async getPosts(ids: readonly string[]): Promise<(Post | null)[]> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => this.contentKey('post:', id));
    const bufs = await this.call(() => this.redis.mgetBuffer(keys));
    return bufs.map((b, i) => (b ? unpackPost(ids[i]!, b) : null));
  }

  async getCommunities(names: readonly string[]): Promise<(Community | null)[]> {
    if (names.length === 0) return [];
    const keys = names.map((n) => this.contentKey('community:', n));
    const bufs = await this.call(() => this.redis.mgetBuffer(keys));
    return bufs.map((b) => (b ? (packr.unpack(b) as Community) : null));
  }

  async listCommunities(): Promise<Community[]> {
    const key = this.contentKey('communities');
    const buf = await this.call(() => this.redis.getBuffer(key));
    return buf ? (packr.unpack(buf) as Community[]) : [];
  }

  async readIndexes(names: readonly string[], limit: number): Promise<string[][]> {
    if (names.length === 0 || limit <= 0) return names.map(() => []);
    const pipeline = this.redis.pipeline();
    for (const n of names) pipeline.zrange(this.contentKey('idx:', n), 0, String(limit - 1), 'REV');
    const results = await this.call(() => pipeline.exec());
    return (results ?? []).map(([err, ids]) => {
      if (err) throw unavailable(err);
      return ids as string[];
    });
  }

  async getSnapshot(key: string): Promise<Uint8Array | null> {
    return this.call(() => this.redis.getBuffer(`${this.prefix}snap:${key}`));
  }

  async putSnapshot(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void> {
    await this.call(() => this.redis.set(`${this.prefix}snap:${key}`, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds));
  }

  async datasetInfo(): Promise<DatasetInfo | null> {
    if (!this.infoLoaded) {
      const buf = await this.call(() => this.redis.getBuffer(`${this.prefix}meta`));
      const meta = buf ? (packr.unpack(buf) as { format: number; info: DatasetInfo }) : null;
      this.info = meta && meta.format === FORMAT ? meta.info : null;
      this.infoLoaded = true;
    }
    return this.info;
  }

  async seed(data: SeedData): Promise<void> {
    const previous = await this.datasetInfo();
    const base = `${this.prefix}c:${data.info.fingerprint}:`;
    // Seeding sends millions of members: a dedicated connection without the serving command timeout, so a large
    // pipeline is not cut off halfway, while serving connections keep their short timeout.
    const writer = this.redis.duplicate({ commandTimeout: undefined, lazyConnect: false });
    writer.on('error', () => {});
    try {
      await this.call(async () => {
        let pipeline = writer.pipeline();
        let weight = 0;
        const flush = async (force = false) => {
          if (weight === 0 || (!force && weight < SEED_PIPELINE_WEIGHT)) return;
          const results = await pipeline.exec();
          for (const [err] of results ?? []) if (err) throw err;
          pipeline = writer.pipeline();
          weight = 0;
        };
        for (const p of data.posts) {
          pipeline.set(`${base}post:${p.id}`, packPost(p));
          weight++;
          await flush();
        }
        for (const c of data.communities) {
          pipeline.set(`${base}community:${c.name}`, packr.pack(c));
          weight++;
        }
        pipeline.set(`${base}communities`, packr.pack([...data.communities].sort((a, b) => (a.name < b.name ? -1 : 1))));
        weight++;
        for (const [name, entries] of data.indexes) {
          const key = `${base}idx:${name}`;
          pipeline.del(key);
          weight++;
          for (let i = 0; i < entries.length; i += ZADD_CHUNK) {
            const args: (string | number)[] = [];
            for (const e of entries.slice(i, i + ZADD_CHUNK)) args.push(e.score, e.id);
            pipeline.zadd(key, ...args);
            weight += args.length / 2;
            await flush();
          }
        }
        await flush(true);
        // The flip: readers switch to the new content with this one SET.
        await writer.set(`${this.prefix}meta`, packr.pack({ format: FORMAT, info: data.info }));
      });
      this.info = data.info;
      this.infoLoaded = true;
      if (previous && previous.fingerprint !== data.info.fingerprint) await this.removeContent(writer, previous.fingerprint);
    } finally {
      writer.disconnect();
    }
  }

  /** Deletes one fingerprint's content with SCAN + UNLINK, in batches, so Redis never blocks on a huge KEYS. */
  private async removeContent(client: Redis, fingerprint: string): Promise<void> {
    const stream = client.scanStream({ match: `${this.prefix}c:${fingerprint}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) await client.unlink(...keys);
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Runs a Redis call, turning connection failures and timeouts into SERVICE_UNAVAILABLE. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw unavailable(err);
    }
  }
}

function unavailable(err: unknown): GatewayError {
  const e = new GatewayError('SERVICE_UNAVAILABLE', 'The feature store (Redis) did not answer; try again shortly.');
  (e as { cause?: unknown }).cause = err;
  return e;
}
