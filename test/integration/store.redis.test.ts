/**
 * What the Redis store promises beyond the Store contract, on a real redis-server and a real three-master Redis
 * Cluster: a constant number of round trips per cold request (counted at the connection), the in-process feature
 * index, per-item decode failures, failing fast or serving from memory when Redis is gone, and invalidation by
 * versioned keys with removal by SCAN (never KEYS).
 */
import { Redis } from 'ioredis';
import { measureRoundTrips, roundTripCorpus } from '../../bench/round-trips';
import { seedDataOf } from '../../src/bootstrap';
import type { Corpus } from '../../src/content';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { EmbeddedStore } from '../../src/store/embedded';
import { RedisStore } from '../../src/store/redis';
import type { SeedData } from '../../src/store/store';
import { startTestGateway } from '../helpers/gateway';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

let redis: TestRedis;
let cluster: TestRedisCluster;
let corpus: Corpus;
let data: SeedData;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
  corpus = roundTripCorpus();
  data = seedDataOf(corpus);
});

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const urlOf = (target: 'redis' | 'cluster') => (target === 'redis' ? redis.url : cluster.url);

async function seeded(target: 'redis' | 'cluster', prefix: string, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url: urlOf(target), keyPrefix: prefix, ...extra });
  await store.connect();
  await store.seed(data);
  return store;
}

describe.each(['redis', 'cluster'] as const)('round trips (%s)', (target) => {
  test('a cold home request costs the same round trips at ~100 and ~5,000 candidates; posts and indexes one batch each', async () => {
    const store = await seeded(target, `rt-${target}:`);
    try {
      const requests = 2;
      const [small, large] = await measureRoundTrips(store, corpus, { sizes: [100, 5000], requests });
      expect(small!.candidates[1]).toBeLessThanOrEqual(110);
      expect(large!.candidates[0]).toBeGreaterThan(4000);
      const all = [...small!.coldIndex, ...large!.coldIndex, ...small!.warmIndex, ...large!.warmIndex];
      if (target === 'redis') {
        // One server: the same four round trips (read batch, indexes, posts, write batch) at every size.
        expect(new Set(all).size).toBe(1);
        expect(all[0]).toBeLessThanOrEqual(4);
      } else {
        // A cluster: the same four phases, each at most one batch per master (sent in parallel); which masters a
        // request's session, scores and viewer keys hash to varies by request, never by candidate count.
        for (const n of all) expect(n).toBeLessThanOrEqual(4 * 3);
      }
      for (const row of [small!, large!]) {
        // The store's own reads: one ZRANGE pipeline for every index, one MGET batch per node for every post
        // (16 shards: all three masters of the cluster), nothing for communities (kept in process).
        expect(row.byCommand.zrange).toBe(requests);
        expect(row.byCommand.mget).toBe(requests * (target === 'redis' ? 1 : 3));
      }
    } finally {
      await store.close();
    }
  });
});

describe('the in-process feature index', () => {
  let store: RedisStore;
  beforeAll(async () => {
    store = await seeded('redis', 'featureindex:');
  });
  afterAll(async () => {
    await store.close();
  });

  test('hot posts cost no round trip; misses of a mixed batch are read in one round trip', async () => {
    store.dropFeatureIndex();
    const hot = corpus.posts.slice(0, 50).map((p) => p.id);
    const cold = corpus.posts.slice(1000, 3000).map((p) => p.id);
    const t0 = store.stats();
    expect((await store.getPosts(hot)).map((p) => p?.id)).toEqual(hot);
    const t1 = store.stats();
    expect(t1.roundTrips - t0.roundTrips).toBe(1);
    expect(await store.getPosts(hot)).toHaveLength(50);
    const t2 = store.stats();
    expect(t2.roundTrips).toBe(t1.roundTrips);
    expect(t2.featureIndex.hits - t1.featureIndex.hits).toBe(50);
    // 50 cached and 2,000 not, interleaved: one round trip, and only the 2,000 are asked of Redis.
    const mixed = cold.flatMap((id, i) => (i < hot.length ? [hot[i]!, id] : [id]));
    const got = await store.getPosts(mixed);
    const t3 = store.stats();
    expect(got.map((p) => p?.id)).toEqual(mixed);
    expect(t3.roundTrips - t2.roundTrips).toBe(1);
    expect(t3.featureIndex.misses - t2.featureIndex.misses).toBe(2000);
    // Communities never cost a round trip on a request: the table is kept in process.
    await store.getCommunities(corpus.communities.map((c) => c.name));
    expect(store.stats().roundTrips).toBe(t3.roundTrips);
  });

  test('a post that does not decode reads as absent; the rest of its batch is served', async () => {
    const [a, b, c] = corpus.posts.slice(5000, 5003);
    const client = new Redis(redis.url);
    try {
      await client.set(store.keys.post(corpus.info.fingerprint, b!.id), Buffer.from([0xc1, 0xff, 0x00]));
      await client.set(store.keys.post(corpus.info.fingerprint, c!.id), Buffer.from('not msgpack of a post'));
    } finally {
      client.disconnect();
    }
    store.dropFeatureIndex();
    const before = store.stats().decodeErrors;
    expect(await store.getPosts([a!.id, b!.id, c!.id])).toEqual([a, null, null]);
    expect(store.stats().decodeErrors - before).toBe(2);
  });
});

describe('timeouts blame Redis, not a busy gateway', () => {
  test('a read issued just before the event loop blocks for three timeouts still succeeds, and the store stays healthy', async () => {
    const store = await seeded('redis', 'busy:', { commandTimeoutMs: 50 });
    try {
      store.dropFeatureIndex();
      const reads = Promise.all([store.getPosts(corpus.posts.slice(0, 100).map((p) => p.id)), store.getSnapshot('nothing'), store.readIndexes(['all:hot'], 10)] as const);
      const until = Date.now() + 150;
      while (Date.now() < until) {
        // Ranking, as far as the event loop can tell.
      }
      const [posts, snap, [hot]] = await reads;
      expect(posts.every(Boolean)).toBe(true);
      expect(snap).toBeNull();
      expect(hot).toHaveLength(10);
      expect(store.health()).toEqual({ degraded: false });
      expect(store.stats().replicaReads).toBe(0);
    } finally {
      await store.close();
    }
  });
});

describe('when Redis is gone', () => {
  test('without a replica: SERVICE_UNAVAILABLE within the command timeout, then at once while the circuit is open', async () => {
    const own = await startRedisServer();
    const store = new RedisStore({ url: own.url, keyPrefix: 'gone:', commandTimeoutMs: 100, breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    try {
      await store.connect();
      await store.seed(data);
      expect(store.health()).toEqual({ degraded: false });
      await own.kill();
      const ids = corpus.posts.slice(0, 3).map((p) => p.id);
      store.dropFeatureIndex();
      let started = Date.now();
      await expect(store.getPosts(ids)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(1000);
      started = Date.now();
      await expect(store.readIndexes(['all:top'], 5)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(50);
      expect(store.health()).toMatchObject({ degraded: true, reason: expect.stringMatching(/Redis is unavailable.*requests fail/) });
      // Snapshots never fail a request: a read misses, a write is dropped.
      expect(await store.getSnapshot('k')).toBeNull();
      await store.putSnapshot('k', Uint8Array.from([1]), 10);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  test('with a replica: reads are served from memory, snapshots kept in memory, and the store says it is degraded', async () => {
    const own = await startRedisServer();
    const replica = new EmbeddedStore();
    await replica.seed(data);
    const store = new RedisStore({ url: own.url, keyPrefix: 'gone:', commandTimeoutMs: 100, breaker: { failureThreshold: 2, cooldownMs: 60_000 }, replica });
    try {
      await store.connect();
      await store.seed(data);
      await own.kill();
      store.dropFeatureIndex();
      const ids = corpus.posts.slice(0, 3).map((p) => p.id);
      // As JSON: the replica's posts read their text from its table (every field, as a post literal's).
      expect(JSON.parse(JSON.stringify(await store.getPosts(ids)))).toEqual(corpus.posts.slice(0, 3));
      expect(await store.readIndexes(['all:top'], 3)).toEqual(await replica.readIndexes(['all:top'], 3));
      expect((await store.listCommunities()).length).toBe(corpus.communities.length);
      await store.putSnapshot('during-outage', Uint8Array.from([7, 8]), 60);
      expect(Array.from((await store.getSnapshot('during-outage'))!)).toEqual([7, 8]);
      expect(store.stats().replicaReads).toBeGreaterThanOrEqual(3);
      expect(store.health()).toMatchObject({ degraded: true, reason: expect.stringMatching(/serving from memory/), since: expect.any(Number) });
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

describe('invalidation without KEYS', () => {
  test('snapshot keys are versioned by the content: after a reseed the same request writes a new key, and old content goes by SCAN', async () => {
    const own = await startRedisServer();
    const prefix = 'version:';
    const small = generateSyntheticCorpus({ posts: 3000, communities: 20, seed: 21 });
    const other = generateSyntheticCorpus({ posts: 3000, communities: 20, seed: 22 });
    expect(other.info.fingerprint).not.toBe(small.info.fingerprint);
    const store = new RedisStore({ url: own.url, keyPrefix: prefix });
    await store.connect();
    const gw = await startTestGateway({ corpus: small, backend: 'redis', redisUrl: own.url, keyPrefix: prefix, store });
    const client = new Redis(own.url);
    const monitorOwner = new Redis(own.url);
    const monitor = await monitorOwner.monitor();
    const testClient = /addr=(\S+)/.exec(String(await client.client('INFO')))![1];
    const sent: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== testClient) sent.push(String(args[0]).toLowerCase());
    });
    try {
      const token = await gw.token('versioned-viewer');
      const query = '{ personalizedFeed(first: 10) { edges { node { id } } } }';
      const first = await gw.query(query, { token });
      expect(first.body.errors).toBeUndefined();
      // The gateway stores a session's snapshot without holding the answer for it (its own later reads come after the
      // write on its connection); this test reads on another connection, so it waits for the writes to land.
      const written = async (notIn: ReadonlySet<string>) => {
        await gw.gateway.feeds.idle();
        return (await client.keys(`${prefix}snap:*`)).filter((k) => !notIn.has(k));
      };
      const keysBefore = new Set(await written(new Set()));
      expect(keysBefore.size).toBeGreaterThan(0);

      await store.seed(seedDataOf(other));
      const second = await gw.query(query, { token });
      expect(second.body.errors).toBeUndefined();
      const otherIds = new Set(other.posts.map((p) => p.id));
      for (const e of second.body.data!.personalizedFeed.edges) expect(otherIds.has(e.node.id)).toBe(true);
      const fresh = await written(keysBefore);
      expect(fresh.length).toBeGreaterThan(0);
      // The old content is gone, removed with SCAN + UNLINK; the gateway never sent KEYS (only this test did).
      expect(await client.keys(store.keys.contentPattern(small.info.fingerprint))).toEqual([]);
      await new Promise((r) => setTimeout(r, 50));
      expect(sent).toContain('scan');
      expect(sent).toContain('unlink');
      expect(sent).not.toContain('keys');
    } finally {
      monitor.disconnect();
      monitorOwner.disconnect();
      client.disconnect();
      await gw.close();
      await own.stop();
    }
  });
});
