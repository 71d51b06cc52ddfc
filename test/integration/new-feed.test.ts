/**
 * A new feed is one pipeline entry, one schema field and one resolver line (docs/extending.md): this feed exists only
 * in this file, and runs end to end through HTTP on both stores, paging, filters, selectors and side effects included.
 */
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { FEED_PIPELINES, type FeedPipeline } from '../../src/pipeline/feeds';
import { feedResolver } from '../../resolvers';
import { startTestGateway, type GraphQLBody, type TestGateway } from '../helpers/gateway';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

const corpus = generateSyntheticCorpus({ posts: 4000, communities: 30, seed: 21 });
const byId = new Map(corpus.posts.map((p) => [p.id, p]));

/** The globally newest posts, for anyone: new by default, at most 2 of one community in any 5. */
const LATEST: FeedPipeline = {
  name: 'latest',
  context: 'none',
  sources: [{ source: 'popular', limit: 400, timeoutMs: 800 }],
  hydration: ['posts', 'communities'],
  filters: ['duplicates', 'nsfw', 'blocked'],
  scorer: { defaultRanker: 'new', signedOutRanker: 'new' },
  selectors: [{ name: 'diversity', options: { window: 5, maxPerCommunity: 2, maxPerDomain: 5 } }, { name: 'interleave' }],
  sideEffects: ['feature-log'],
  deadlineMs: 1000,
  staleWhileRevalidate: false,
};

const EXTENSIONS = {
  typeDefs: `extend type Query {
    "The newest posts of all communities."
    latestFeed(first: Int = 25, after: String, ranker: String, deadlineMs: Int): FeedConnection!
  }`,
  resolvers: { Query: { latestFeed: feedResolver('latest', { viewer: 'optional' }) } },
};

const Q = (args: string) => `{ latestFeed(${args}) { edges { rank score cursor node { id createdAt community { name } } } pageInfo { hasNextPage endCursor } rankedBy { id } } }`;

function ok(body: GraphQLBody): Record<string, any> {
  if (body.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(['embedded', 'redis'] as const)('a feed defined in test code (%s store)', (backend) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      corpus,
      backend,
      redisUrl: redis.url,
      keyPrefix: `latest-${backend}:`,
      pipelines: { ...FEED_PIPELINES, latest: LATEST },
      extensions: EXTENSIONS,
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  test('serves its stages: its source, its default ranker, its diversity rule, and pages', async () => {
    const first = ok((await gw.query(Q('first: 20'))).body).latestFeed;
    expect(first.rankedBy.id).toBe('new');
    expect(first.edges).toHaveLength(20);
    // The popular source's posts (the highest scored), ordered newest first by the "new" ranker, no over-18 post.
    const top = new Set([...corpus.posts].sort((a, b) => b.score - a.score).slice(0, 400).map((p) => p.id));
    for (const e of first.edges) {
      expect(top.has(e.node.id)).toBe(true);
      expect(byId.get(e.node.id)!.over18).toBe(false);
    }
    // Diversity: at most 2 of one community in any 5 consecutive edges.
    for (let i = 0; i + 5 <= first.edges.length; i++) {
      const counts = new Map<string, number>();
      for (const e of first.edges.slice(i, i + 5)) counts.set(e.node.community.name, (counts.get(e.node.community.name) ?? 0) + 1);
      expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    }
    const second = ok((await gw.query(Q(`first: 20, after: "${first.pageInfo.endCursor}"`))).body).latestFeed;
    expect(second.edges[0].rank).toBe(21);
    const seen = new Set(first.edges.map((e: { node: { id: string } }) => e.node.id));
    for (const e of second.edges) expect(seen.has(e.node.id)).toBe(false);
  });

  test('its session filter applies to a signed-in viewer, and its side effect logs what was served', async () => {
    const token = await gw.token(`latest-reader-${backend}`);
    const before = ok((await gw.query(Q('first: 10'), { token })).body).latestFeed.edges as { node: { community: { name: string } } }[];
    const victim = before[0]!.node.community.name;
    ok((await gw.query(`mutation { blockCommunity(name: "${victim}") { blockedCommunities } }`, { token })).body);
    const res = await gw.query(Q('first: 50, ranker: "top"'), { token });
    const after = ok(res.body).latestFeed.edges as { node: { community: { name: string } } }[];
    expect(after.length).toBeGreaterThan(0);
    for (const e of after) expect(e.node.community.name).not.toBe(victim);
    await gw.gateway.feeds.idle();
    const { entries } = await gw.featureLog.read(null, 10_000);
    expect(entries.some((e) => e.feed === 'latest' && e.ranker === 'top')).toBe(true);
  });

  test('an unknown ranker and a bad page size are refused as for any feed', async () => {
    const bad = (await gw.query(Q('first: 0'))).body;
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const unknown = (await gw.query(Q('first: 5, ranker: "nope"'))).body;
    expect(unknown.errors?.[0]?.extensions?.code).toBe('UNKNOWN_RANKER');
  });
});
