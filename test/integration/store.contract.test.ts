/**
 * One contract, two backends: every test here runs against the embedded store, a real redis-server, and a real
 * three-master Redis Cluster (which rejects any read that crosses slots).
 */
import { Redis } from 'ioredis';
import type { Community, DatasetInfo, Post } from '../../src/content';
import { EmbeddedStore } from '../../src/store/embedded';
import { RedisStore } from '../../src/store/redis';
import type { SeedData, Store } from '../../src/store/store';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

/**
 * Every field of each post, read through the Post interface, as a plain object: the contract is what a reader gets
 * from each field (the embedded store reads a post's text from its table when asked), not how a post object holds it.
 */
function fieldsOf(posts: readonly (Post | null)[]): (Post | null)[] {
  return posts.map((p) =>
    p === null
      ? null
      : {
          id: p.id,
          community: p.community,
          title: p.title,
          url: p.url,
          permalink: p.permalink,
          score: p.score,
          ups: p.ups,
          downs: p.downs,
          numComments: p.numComments,
          createdUtc: p.createdUtc,
          domain: p.domain,
          over18: p.over18,
          isSelf: p.isSelf,
        },
  );
}

const post = (id: string, community: string, extra: Partial<Post> = {}): Post => ({
  id,
  community,
  title: `title of ${id}, with "quotes", commas and ünïcödé`,
  url: id.endsWith('0') ? null : `https://example.com/${id}`,
  permalink: `/r/${community}/comments/${id}/`,
  score: id.length * 100,
  ups: id.length * 150,
  downs: id.length * 50,
  numComments: 7,
  createdUtc: 1300000000 + id.length,
  domain: null,
  over18: id.startsWith('n'),
  isSelf: true,
  ...extra,
});

const info = (fingerprint: string): DatasetInfo => ({ source: 'synthetic', description: `test ${fingerprint}`, posts: 4, communities: 2, fingerprint });

const communities: Community[] = [
  { name: 'zeta', title: null, subscribers: null, postCount: 1 },
  { name: 'alpha', title: 'Alpha!', subscribers: 1234, postCount: 3 },
];

const seedA: SeedData = {
  info: info('fpA'),
  posts: [post('a1', 'alpha'), post('a2', 'alpha', { score: -5 }), post('n3', 'alpha'), post('z0', 'zeta')],
  communities,
  indexes: new Map([
    ['community:alpha:top', [{ id: 'a1', score: 10 }, { id: 'a2', score: 30 }, { id: 'n3', score: 20 }]],
    // Equal scores: both backends must order ties the same way.
    ['ties', [{ id: 'b', score: 1 }, { id: 'c', score: 1 }, { id: 'a', score: 1 }, { id: 'd', score: 2 }]],
    ['negative', [{ id: 'x', score: -1.5 }, { id: 'y', score: -0.25 }]],
  ]),
};

let redisServer: TestRedis;
let cluster: TestRedisCluster;
beforeAll(async () => {
  [redisServer, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([redisServer?.stop(), cluster?.stop()]);
});

type Factory = () => Promise<Store>;
const backends: [string, Factory][] = [
  ['embedded', async () => new EmbeddedStore()],
  [
    'redis',
    async () => {
      const s = new RedisStore({ url: redisServer.url, keyPrefix: `contract-${Math.random().toString(36).slice(2)}:` });
      await s.connect();
      return s;
    },
  ],
  [
    'cluster',
    async () => {
      const s = new RedisStore({ url: cluster.url, keyPrefix: `contract-${Math.random().toString(36).slice(2)}:` });
      await s.connect();
      return s;
    },
  ],
];

describe.each(backends)('Store contract (%s)', (kind, make) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
    await store.seed(seedA);
  });
  afterEach(async () => {
    await store.close();
  });

  test('reports what it holds', async () => {
    expect(store.kind).toBe(kind === 'cluster' ? 'redis' : kind);
    expect(await store.datasetInfo()).toEqual(seedA.info);
  });

  test('getPosts: same length and order as the ids, null where unknown, every field intact', async () => {
    const got = fieldsOf(await store.getPosts(['z0', 'nope', 'a1', 'a1', '*', '{x}', 'a\nb']));
    expect(got).toEqual([seedA.posts[3], null, seedA.posts[0], seedA.posts[0], null, null, null]);
    expect(await store.getPosts([])).toEqual([]);
  });

  test('every field survives: text beyond Latin-1, a url equal to its permalink, null url or permalink, fractions', async () => {
    const odd: Post[] = [
      post('e1', 'alpha', { title: '“Curly” quotes, emoji 🎉, CJK 漢字, RTL עברית, and a lone é', domain: 'i.imgur.com', isSelf: false }),
      post('e2', 'alpha', { url: '/r/alpha/comments/e2/', permalink: '/r/alpha/comments/e2/' }),
      post('e3', 'zeta', { url: 'https://example.com/x', permalink: null, over18: true }),
      post('e4', 'zeta', { url: null, permalink: null, title: '', score: 0, ups: 0.5, createdUtc: 1.25e9 }),
    ];
    await store.seed({ ...seedA, info: info('fpOdd'), posts: [...seedA.posts, ...odd] });
    const read = await store.getPosts(odd.map((p) => p.id));
    expect(fieldsOf(read)).toEqual(odd);
    // As JSON too (logs, exports): every field, text included.
    expect(JSON.parse(JSON.stringify(read))).toEqual(odd);
  });

  test('getCommunities and listCommunities (sorted by name)', async () => {
    expect(await store.getCommunities(['alpha', 'missing', 'zeta'])).toEqual([communities[1], null, communities[0]]);
    expect((await store.listCommunities()).map((c) => c.name)).toEqual(['alpha', 'zeta']);
  });

  test('readIndexes: highest score first, limited, unknown indexes empty, one answer per name in order', async () => {
    const got = await store.readIndexes(['community:alpha:top', 'unknown', 'negative'], 2);
    expect(got).toEqual([['a2', 'n3'], [], ['y', 'x']]);
    expect(await store.readIndexes(['community:alpha:top'], 100)).toEqual([['a2', 'n3', 'a1']]);
    expect(await store.readIndexes([], 5)).toEqual([]);
  });

  test('readIndexes orders equal scores identically on both backends (reverse id order, as ZREVRANGE)', async () => {
    expect(await store.readIndexes(['ties'], 10)).toEqual([['d', 'c', 'b', 'a']]);
  });

  test('snapshots round-trip as bytes and expire after their TTL', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 255, 128]);
    await store.putSnapshot('k1', bytes, 1);
    expect(Array.from((await store.getSnapshot('k1'))!)).toEqual([0, 1, 2, 255, 128]);
    expect(await store.getSnapshot('other')).toBeNull();
    await new Promise((r) => setTimeout(r, 1300));
    expect(await store.getSnapshot('k1')).toBeNull();
  });

  test('reseeding with other content replaces it entirely', async () => {
    const seedB: SeedData = { info: info('fpB'), posts: [post('b1', 'beta')], communities: [{ name: 'beta', title: null, subscribers: 1, postCount: 1 }], indexes: new Map([['only', [{ id: 'b1', score: 1 }]]]) };
    await store.seed(seedB);
    expect(await store.datasetInfo()).toEqual(seedB.info);
    expect(fieldsOf(await store.getPosts(['a1', 'b1']))).toEqual([null, seedB.posts[0]]);
    expect(await store.readIndexes(['community:alpha:top', 'only'], 10)).toEqual([[], ['b1']]);
    expect((await store.listCommunities()).map((c) => c.name)).toEqual(['beta']);
  });
});

describe('RedisStore specifics', () => {
  /** Every key of the server, or of every cluster master (tests may use KEYS; the store never does). */
  async function allKeys(target: 'redis' | 'cluster', pattern: string): Promise<string[]> {
    const clients = target === 'redis' ? [new Redis(redisServer.url)] : cluster.nodeClients();
    try {
      return (await Promise.all(clients.map((c) => c.keys(pattern)))).flat();
    } finally {
      for (const c of clients) c.disconnect();
    }
  }

  test.each(['redis', 'cluster'] as const)('reseeding removes the previous content (%s) and writes nothing outside its prefix', async (target) => {
    const prefix = 'cleanup-test:';
    const store = new RedisStore({ url: target === 'redis' ? redisServer.url : cluster.url, keyPrefix: prefix });
    try {
      await store.connect();
      await store.seed(seedA);
      // The layout (src/store/keys.ts): content under the fingerprint's hash tags, posts spread over shards.
      expect(await allKeys(target, `${prefix}{c:fpA}:*`)).toEqual(expect.arrayContaining([`${prefix}{c:fpA}:communities`, `${prefix}{c:fpA}:idx:ties`]));
      expect((await allKeys(target, `${prefix}{c:fpA:p*}:post:*`)).length).toBe(seedA.posts.length);
      await store.seed({ ...seedA, info: info('fpC') });
      expect(await allKeys(target, `${prefix}{c:fpA*`)).toEqual([]);
      expect((await allKeys(target, `${prefix}{c:fpC*`)).length).toBeGreaterThan(0);
      const outside = (await allKeys(target, '*')).filter((k) => !k.startsWith('contract-') && !k.startsWith(prefix));
      expect(outside).toEqual([]);
    } finally {
      await store.close();
    }
  });

  test('a second process sees the content the first seeded (reads meta at connect)', async () => {
    const prefix = 'shared-test:';
    const a = new RedisStore({ url: redisServer.url, keyPrefix: prefix });
    const b = new RedisStore({ url: redisServer.url, keyPrefix: prefix });
    try {
      await a.connect();
      await a.seed(seedA);
      await b.connect();
      expect(await b.datasetInfo()).toEqual(seedA.info);
      expect(fieldsOf(await b.getPosts(['a1']))).toEqual([seedA.posts[0]]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an unreachable Redis fails with SERVICE_UNAVAILABLE, not a hang or a crash', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200, redisOptions: { retryStrategy: () => null, connectTimeout: 200 } });
    await expect(store.connect()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await store.close();
  });
});
