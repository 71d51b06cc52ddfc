/**
 * The feed API end to end: real HTTP against a gateway on a free port, over both store backends (the Redis one on a
 * real redis-server and on a real three-master Redis Cluster, both started and stopped by this file), on the real
 * Reddit data when it is present.
 */
import type { Corpus } from '../../src/content';
import { FEED_PIPELINES } from '../../src/pipeline/feeds';
import { feedTestCorpus } from '../helpers/corpus';
import { startTestGateway, type Backend, type GraphQLBody, type TestGateway } from '../helpers/gateway';
import { createRedisClient, nodeConnections } from '../../src/store/connection';
import { parseRedisTarget } from '../../src/redis-url';
import type { RedisStore } from '../../src/store/redis';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

const EDGE_FIELDS = `cursor rank score node { id title score numComments createdAt community { name } }`;
const HOME = `query Home($first: Int, $after: String, $ranker: String) {
  personalizedFeed(first: $first, after: $after, ranker: $ranker) {
    edges { ${EDGE_FIELDS} }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    rankedBy { id version description }
    totalCount
  }
}`;
const CONTEXT = `query Ctx($context: FeedContext!, $first: Int, $after: String, $ranker: String) {
  contextualFeed(context: $context, first: $first, after: $after, ranker: $ranker) {
    edges { ${EDGE_FIELDS} }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    rankedBy { id }
  }
}`;

interface Edge {
  cursor: string;
  rank: number;
  score: number;
  node: { id: string; title: string; score: number; numComments: number; createdAt: string; community: { name: string } };
}

function ok(body: GraphQLBody): Record<string, any> {
  if (body.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

function codes(body: GraphQLBody): (string | undefined)[] {
  return (body.errors ?? []).map((e) => e.extensions?.code);
}

function expectNonIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
}

let corpus: Corpus;
let real = false;
let redis: TestRedis;
let cluster: TestRedisCluster;

beforeAll(async () => {
  let corpusLoaded: Promise<unknown>;
  [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster(), (corpusLoaded = feedTestCorpus().then((c) => ({ corpus, real } = c)))]);
  await corpusLoaded;
});

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

/** Keys matching `pattern` on every node (tests may use KEYS; the gateway never does), and a way to delete them. */
async function withRedisKeys(url: string, pattern: string, fn: (keys: string[], del: () => Promise<void>) => Promise<void>): Promise<void> {
  const client = createRedisClient(parseRedisTarget(url), { lazyConnect: true });
  try {
    await client.connect();
    const nodes = 'nodes' in client ? client.nodes('master') : nodeConnections(client);
    const keys = (await Promise.all(nodes.map((n) => n.keys(pattern)))).flat();
    await fn(keys, async () => void (await Promise.all(keys.map((k) => client.del(k)))));
  } finally {
    client.disconnect();
  }
}

describe.each<Backend | 'cluster'>(['embedded', 'redis', 'cluster'])('feeds over HTTP (%s store)', (backend) => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  const redisUrl = () => (backend === 'cluster' ? cluster.url : redis.url);

  beforeAll(async () => {
    gw = await startTestGateway({ corpus, backend: backend === 'cluster' ? 'redis' : backend, redisUrl: redisUrl(), keyPrefix: `rgtest-${backend}:` });
    alice = await gw.token('alice');
    bob = await gw.token('bob');
  });

  afterAll(async () => {
    await gw?.close();
  });

  async function home(vars: Record<string, unknown>, token: string | null = alice) {
    return gw.query(HOME, { variables: vars, token });
  }

  test('paging the home feed 8 times by 25 gives 200 distinct posts ranked 1..200 with non-increasing scores', async () => {
    const edges: Edge[] = [];
    let after: string | null = null;
    for (let page = 0; page < 8; page++) {
      const { status, body } = await home({ first: 25, after });
      expect(status).toBe(200);
      const feed = ok(body).personalizedFeed;
      expect(feed.edges).toHaveLength(25);
      expect(feed.pageInfo.hasPreviousPage).toBe(page > 0);
      expect(feed.pageInfo.hasNextPage).toBe(true);
      expect(feed.pageInfo.startCursor).toBe(feed.edges[0].cursor);
      expect(feed.pageInfo.endCursor).toBe(feed.edges[24].cursor);
      edges.push(...feed.edges);
      after = feed.pageInfo.endCursor;
    }
    expect(new Set(edges.map((e) => e.node.id)).size).toBe(200);
    expect(edges.map((e) => e.rank)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expectNonIncreasing(edges.map((e) => e.score));
    for (const e of edges) expect(e.node.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test('the same request twice gives the same page', async () => {
    const a = ok((await home({ first: 25 })).body).personalizedFeed;
    const b = ok((await home({ first: 25 })).body).personalizedFeed;
    expect(b.edges.map((e: Edge) => [e.node.id, e.score, e.rank])).toEqual(a.edges.map((e: Edge) => [e.node.id, e.score, e.rank]));
  });

  test('two viewers get different first pages, each from their own communities and popular posts', async () => {
    const a = ok((await home({ first: 25 }, alice)).body).personalizedFeed.edges.map((e: Edge) => e.node.id);
    const b = ok((await home({ first: 25 }, bob)).body).personalizedFeed.edges.map((e: Edge) => e.node.id);
    expect(a).not.toEqual(b);
  });

  test('the default ranker is the learned LambdaMART model, and rankedBy says so', async () => {
    const feed = ok((await home({ first: 5 })).body).personalizedFeed;
    expect(feed.rankedBy.id).toBe(FEED_PIPELINES.home.scorer.defaultRanker);
    expect(feed.rankedBy.id).toBe('lambdamart');
    expect(feed.rankedBy.version).toBeTruthy();
  });

  test('ranker "new" orders by createdAt and ranker "top" by post score; rankedBy names the ranker used', async () => {
    const byNew = ok((await home({ first: 50, ranker: 'new' })).body).personalizedFeed;
    expect(byNew.rankedBy.id).toBe('new');
    const times = byNew.edges.map((e: Edge) => Date.parse(e.node.createdAt));
    expectNonIncreasing(times);
    expect(new Set(times).size).toBeGreaterThan(1);

    const byTop = ok((await home({ first: 50, ranker: 'top' })).body).personalizedFeed;
    expect(byTop.rankedBy.id).toBe('top');
    expectNonIncreasing(byTop.edges.map((e: Edge) => e.node.score));
    expect(byTop.edges.map((e: Edge) => e.score)).toEqual(byTop.edges.map((e: Edge) => e.node.score));

    const byHot = ok((await home({ first: 5, ranker: 'hot' })).body).personalizedFeed;
    expect(byHot.rankedBy.id).toBe('hot');
  });

  test('a cursor of one ranker is refused by another (it belongs to another ranked list)', async () => {
    const top = ok((await home({ first: 5, ranker: 'top' })).body).personalizedFeed;
    const { body } = await home({ first: 5, ranker: 'new', after: top.pageInfo.endCursor });
    expect(codes(body)).toEqual(['INVALID_CURSOR']);
  });

  test('rankers lists at least hot, new and top, each described', async () => {
    const { rankers } = ok((await gw.query('{ rankers { id version description features } }')).body);
    const ids = rankers.map((r: { id: string }) => r.id);
    expect(ids).toEqual(expect.arrayContaining(['hot', 'new', 'top', 'personalized']));
    for (const r of rankers) {
      expect(r.description.length).toBeGreaterThan(10);
      expect(r.features.length).toBeGreaterThan(0);
    }
  });

  test('two contextualFeed aliases (pics and funny) in one request each answer with posts of their own community, signed out', async () => {
    const q = `{
      pics: contextualFeed(context: { community: "pics" }, first: 25) { edges { node { id community { name } } } rankedBy { id } }
      funny: contextualFeed(context: { community: "funny" }, first: 25) { edges { node { id community { name } } } rankedBy { id } }
    }`;
    const { status, body } = await gw.query(q, { token: null });
    expect(status).toBe(200);
    const data = ok(body);
    for (const alias of ['pics', 'funny']) {
      expect(data[alias].edges).toHaveLength(25);
      for (const e of data[alias].edges) expect(e.node.community.name).toBe(alias);
      expect(data[alias].rankedBy.id).toBe('hot');
    }
  });

  test('a community feed pages without repeats, signed in, and personalizes the ranker', async () => {
    const first = ok((await gw.query(CONTEXT, { variables: { context: { community: 'pics' }, first: 30 }, token: alice })).body).contextualFeed;
    expect(first.rankedBy.id).toBe('personalized');
    const second = ok((await gw.query(CONTEXT, { variables: { context: { community: 'pics' }, first: 30, after: first.pageInfo.endCursor }, token: alice })).body).contextualFeed;
    const ids = [...first.edges, ...second.edges].map((e: Edge) => e.node.id);
    expect(new Set(ids).size).toBe(60);
    expect(second.edges[0].rank).toBe(31);
    expect(second.pageInfo.hasPreviousPage).toBe(true);
  });

  test('a post context returns related posts: same community or a shared title word, never the post itself', async () => {
    const context = corpus.posts.find((p) => p.community === 'pics' && p.title.split(' ').length >= 6 && !p.over18)!;
    const feed = ok((await gw.query(CONTEXT, { variables: { context: { post: context.id }, first: 100 }, token: null })).body).contextualFeed;
    expect(feed.edges.length).toBeGreaterThan(10);
    const words = new Set(context.title.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length >= 3));
    for (const e of feed.edges as Edge[]) {
      expect(e.node.id).not.toBe(context.id);
      const shares = e.node.title.toLowerCase().split(/[^\p{L}\p{N}]+/u).some((w) => words.has(w));
      expect(e.node.community.name === context.community || shares).toBe(true);
    }
  });

  test('a post context with ranker "personalized" lifts similar titles above the same community\'s hot posts', async () => {
    // Pick a post whose title words are shared by posts of other communities, so similar-titles contributes.
    const context = corpus.posts.find((p) => p.community === 'funny' && !p.over18 && p.title.length > 40)!;
    const feed = ok((await gw.query(CONTEXT, { variables: { context: { post: context.id }, first: 100, ranker: 'personalized' }, token: null })).body).contextualFeed;
    expect(feed.rankedBy.id).toBe('personalized');
    expectNonIncreasing(feed.edges.map((e: Edge) => e.score));
  });

  test('post and community look-ups', async () => {
    const p = corpus.posts[0]!;
    const data = ok((await gw.query(`query($id: ID!, $c: String!) { post(id: $id) { id title score numComments over18 isSelf community { name subscribers } } community(name: $c) { name subscribers postCount } missing: post(id: "zzzzzzz") { id } nocomm: community(name: "no_such_community_x") { name } }`, { variables: { id: p.id, c: p.community } })).body);
    expect(data.post).toMatchObject({ id: p.id, title: p.title, score: p.score, numComments: p.numComments, over18: p.over18, isSelf: p.isSelf });
    expect(data.post.community.name).toBe(p.community);
    expect(data.community.name).toBe(p.community);
    expect(data.community.postCount).toBe(corpus.posts.filter((x) => x.community === p.community).length);
    expect(data.missing).toBeNull();
    expect(data.nocomm).toBeNull();
  });

  test('signed-out and non-opted-in viewers never see over-18 posts', async () => {
    const nsfwCommunity = corpus.communities.find((c) => corpus.posts.some((p) => p.community === c.name && p.over18));
    if (!nsfwCommunity) return; // a corpus without over-18 posts has nothing to filter
    const { body } = await gw.query(CONTEXT, { variables: { context: { community: nsfwCommunity.name }, first: 100 }, token: null });
    for (const e of ok(body).contextualFeed.edges) expect(corpus.posts.find((p) => p.id === e.node.id)!.over18).toBe(false);
  });

  describe('errors: each code from the input it names, and the gateway keeps serving', () => {
    afterEach(async () => {
      // After every refusal a normal request still answers.
      const { status, body } = await home({ first: 3 });
      expect(status).toBe(200);
      expect(ok(body).personalizedFeed.edges).toHaveLength(3);
    });

    test('UNAUTHENTICATED: no token, a malformed header, a forged token, an expired token', async () => {
      expect(codes((await home({ first: 5 }, null)).body)).toEqual(['UNAUTHENTICATED']);
      const forged = await new (await import('../../src/auth/tokens')).TokenService('f'.repeat(40)).sign('alice');
      const expired = await gw.tokens.sign('alice', { expiresIn: Math.floor(Date.now() / 1000) - 10 });
      for (const headers of [{ authorization: 'Token abc' }, { authorization: `Bearer ${forged}` }, { authorization: `Bearer ${expired}` }, { authorization: 'Bearer not-a-jwt' }]) {
        const { status, body } = await gw.query(HOME, { variables: { first: 5 }, headers });
        expect(status).toBe(200);
        expect(codes(body)).toEqual(['UNAUTHENTICATED']);
        expect(body.data).toBeNull();
      }
    });

    test('UNAUTHENTICATED for a broken token on contextualFeed too, but not for fields that need no viewer', async () => {
      const headers = { authorization: 'Bearer garbage' };
      const feed = await gw.query('{ f: contextualFeed(context: { community: "pics" }, first: 1) { rankedBy { id } } }', { headers });
      expect(codes(feed.body)).toEqual(['UNAUTHENTICATED']);
      const rankers = await gw.query('{ rankers { id } post(id: "abc") { id } }', { headers });
      expect(rankers.body.errors).toBeUndefined();
      expect(rankers.body.data?.rankers.length).toBeGreaterThan(0);
    });

    test('INVALID_CURSOR: garbage, a tampered cursor, and another viewer\'s cursor', async () => {
      const page = ok((await home({ first: 5 })).body).personalizedFeed;
      const cursor: string = page.pageInfo.endCursor;
      const tampered = cursor.slice(0, 5) + (cursor[5] === 'x' ? 'y' : 'x') + cursor.slice(6);
      for (const after of ['garbage', '', tampered, `${cursor}x`, '{x}', '*', 'a\nb', 'z'.repeat(10_240)]) {
        expect(codes((await home({ first: 5, after })).body)).toEqual(['INVALID_CURSOR']);
      }
      // Bob cannot page through Alice's snapshot with her cursor.
      expect(codes((await home({ first: 5, after: cursor }, bob)).body)).toEqual(['INVALID_CURSOR']);
    });

    test('UNKNOWN_RANKER lists the valid ids', async () => {
      const { body } = await home({ first: 5, ranker: 'nope' });
      expect(codes(body)).toEqual(['UNKNOWN_RANKER']);
      expect(body.errors![0]!.message).toMatch(/hot/);
      expect(body.errors![0]!.message).toMatch(/new/);
      expect(body.errors![0]!.message).toMatch(/top/);
    });

    test('BAD_USER_INPUT for first below 1 or above 100', async () => {
      for (const first of [0, -1, 101, 100000]) expect(codes((await home({ first })).body)).toEqual(['BAD_USER_INPUT']);
      expect(ok((await home({ first: 100 })).body).personalizedFeed.edges).toHaveLength(100);
    });

    test('NOT_FOUND for an unknown community or post context, BAD_USER_INPUT for a malformed one', async () => {
      for (const context of [{ community: 'no_such_community_x' }, { post: 'zzzzzzz' }]) {
        const { status, body } = await gw.query(CONTEXT, { variables: { context, first: 5 } });
        expect(status).toBe(200);
        expect(codes(body)).toEqual(['NOT_FOUND']);
      }
      for (const context of [{ community: '*' }, { post: '{x}' }, { community: 'a\nb' }, { post: 'p'.repeat(10_240) }]) {
        const { status, body } = await gw.query(CONTEXT, { variables: { context, first: 5 } });
        expect(status).toBe(200);
        expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      }
    });

    test('a context with both fields or none is refused by @oneOf validation', async () => {
      for (const context of [{ community: 'pics', post: 'abc' }, {}]) {
        const { status, body } = await gw.query(CONTEXT, { variables: { context, first: 5 } });
        expect(status).toBeLessThan(500);
        expect(body.errors?.[0]?.message).toMatch(/exactly one key|must specify exactly one/i);
      }
    });

    test('CURSOR_EXPIRED once the snapshot a cursor points to is gone', async () => {
      const page = ok((await home({ first: 5 }, await gw.token('carol'))).body).personalizedFeed;
      // Expire every snapshot of this gateway's namespace, as the TTL would.
      if (backend !== 'embedded') {
        await gw.gateway.feeds.idle();
        await withRedisKeys(redisUrl(), `${gw.config.redisKeyPrefix}snap:*`, async (keys, del) => {
          expect(keys.length).toBeGreaterThan(0);
          await del();
        });
      } else {
        (gw.store as unknown as { snapshots: { clear(): void } }).snapshots.clear();
      }
      const { body } = await home({ first: 5, after: page.pageInfo.endCursor }, await gw.token('carol'));
      expect(codes(body)).toEqual(['CURSOR_EXPIRED']);
    });
  });

  if (backend !== 'embedded') {
    test('with Redis, the snapshots and candidate indexes live in Redis under the key prefix', async () => {
      await home({ first: 5, ranker: 'top' }, await gw.token('dora'));
      await gw.gateway.feeds.idle();
      const prefix = gw.config.redisKeyPrefix;
      const fp = corpus.info.fingerprint;
      const layout = (gw.store as RedisStore).keys;
      await withRedisKeys(redisUrl(), `${prefix}snap:*`, async (snaps) => {
        expect(snaps.length).toBeGreaterThan(0);
        const client = createRedisClient(parseRedisTarget(redisUrl()), {});
        try {
          expect(layout.index(fp, 'community:pics:hot')).toBe(`${prefix}{c:${fp}}:idx:community:pics:hot`);
          expect(await client.zcard(layout.index(fp, 'community:pics:hot'))).toBe(corpus.posts.filter((p) => p.community === 'pics').length);
          expect(await client.exists(layout.post(fp, corpus.posts[0]!.id))).toBe(1);
          // A page snapshot (scored lists, `snap:scores:*`, have their own TTL).
          const ttl = await client.ttl(snaps.find((k) => !k.startsWith(`${prefix}snap:scores:`))!);
          expect(ttl).toBeGreaterThan(0);
          expect(ttl).toBeLessThanOrEqual(gw.config.snapshotTtlSeconds);
        } finally {
          client.disconnect();
        }
      });
    });
  }

  if (real) {
    test('real data: the home feed mixes subscribed communities and answers with real titles', async () => {
      const feed = ok((await home({ first: 100 })).body).personalizedFeed;
      const communities = new Set(feed.edges.map((e: Edge) => e.node.community.name));
      expect(communities.size).toBeGreaterThan(2);
      const titles = new Set(corpus.posts.map((p) => p.title));
      for (const e of feed.edges) expect(titles.has(e.node.title)).toBe(true);
    });
  }
});
