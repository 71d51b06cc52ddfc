/**
 * Replayed responses (src/http/replay.ts): an identical feed request is answered from the last response's bytes
 * with a fresh request id, exactly while the gateway would have computed the same bytes, and never across viewers,
 * sessions, refreshes, errors, mutations or expired tokens. Over real HTTP, on both stores.
 */
import type { Corpus } from '../../src/content';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { startTestGateway, type Backend, type TestGateway } from '../helpers/gateway';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

const corpus: Corpus = generateSyntheticCorpus({ posts: 3000, seed: 21 });
const HOME = (args = '') => `query Home { personalizedFeed(first: 10${args}) { edges { cursor rank node { id title } } pageInfo { endCursor } } }`;

interface Reply {
  status: number;
  requestIdHeader: string | null;
  text: string;
  json: any;
}

async function send(gw: TestGateway, query: string, token: string | null, variables?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(gw.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  return { status: res.status, requestIdHeader: res.headers.get('x-request-id'), text, json: JSON.parse(text) };
}

const withoutId = (r: Reply) => r.text.replace(/"requestId":"[^"]+"/, '');
const ids = (r: Reply): string[] => r.json.data.personalizedFeed.edges.map((e: { node: { id: string } }) => e.node.id);

async function replays(gw: TestGateway): Promise<number> {
  const metric = await gw.gateway.metrics.registry.getSingleMetric('ranking_cache_lookups_total')!.get();
  return metric.values.filter((v) => v.labels.cache === 'responses' && v.labels.result === 'hit').reduce((n, v) => n + v.value, 0);
}

describe.each<Backend>(['embedded', 'redis'])('replayed responses (%s store)', (backend) => {
  let redis: TestRedis | null = null;
  let gw: TestGateway;
  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
    gw = await startTestGateway({ corpus, backend, redisUrl: redis?.url, keyPrefix: 'rgreplay:' });
  });
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  test('the same request again is replayed: same bytes, its own request id in the body and the header', async () => {
    const token = await gw.token('replay-same');
    const first = await send(gw, HOME(), token);
    const before = await replays(gw);
    const second = await send(gw, HOME(), token);
    const third = await send(gw, HOME(), token);
    expect(await replays(gw)).toBeGreaterThan(before);
    expect(withoutId(second)).toBe(withoutId(first));
    expect(withoutId(third)).toBe(withoutId(first));
    const requestIds = [first, second, third].map((r) => r.json.extensions.requestId as string);
    expect(new Set(requestIds).size).toBe(3);
    expect([second, third].map((r) => r.requestIdHeader)).toEqual(requestIds.slice(1));
  });

  test("another viewer's identical request is never answered with the first viewer's bytes", async () => {
    const a = await gw.token('replay-a');
    const b = await gw.token('replay-b');
    const fromA = await send(gw, HOME(), a);
    await send(gw, HOME(), a);
    const fromB = await send(gw, HOME(), b);
    expect(ids(fromB)).not.toEqual(ids(fromA));
    // B's own page, the one B's next request (a replay) repeats.
    expect(ids(await send(gw, HOME(), b))).toEqual(ids(fromB));
  });

  test('a refresh is never replayed, and after it the plain request answers the new session, not the replayed old page', async () => {
    const token = await gw.token('replay-refresh');
    const old = await send(gw, HOME(), token);
    await send(gw, HOME(), token); // now kept for replay
    const before = await replays(gw);
    const refreshed = await send(gw, HOME(', refresh: true'), token);
    const refreshedAgain = await send(gw, HOME(', refresh: true'), token);
    expect(await replays(gw)).toBe(before); // each refresh runs: a new session every time
    expect(ids(refreshed)).not.toEqual(ids(old));
    const after = await send(gw, HOME(), token);
    expect(ids(after)).toEqual(ids(refreshedAgain));
  });

  test('errors, mutations and non-feed fields always run', async () => {
    const token = await gw.token('replay-other');
    const start = await replays(gw);
    for (let i = 0; i < 3; i++) {
      expect((await send(gw, 'query { personalizedFeed(first: 101) { edges { cursor } } }', token)).json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect((await send(gw, 'query { rankers { id } }', token)).json.data.rankers.length).toBeGreaterThan(0);
      expect((await send(gw, 'mutation { markSeen(postIds: []) }', token)).json.data.markSeen).toBe(0);
    }
    expect(await replays(gw)).toBe(start);
  });

  test("a replay stops at the token's expiry: the request is then UNAUTHENTICATED", async () => {
    const token = await gw.tokens.sign('replay-expiring', { expiresIn: '2s' });
    await send(gw, HOME(), token);
    expect((await send(gw, HOME(), token)).json.errors).toBeUndefined();
    await new Promise((r) => setTimeout(r, 2100));
    expect((await send(gw, HOME(), token)).json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a ranker reload forgets every kept response', async () => {
    const token = await gw.token('replay-reload');
    await send(gw, HOME(), token);
    await send(gw, HOME(), token);
    const before = await replays(gw);
    await send(gw, HOME(), token);
    expect(await replays(gw)).toBe(before + 1);
    await gw.rankers.reload();
    await send(gw, HOME(), token);
    expect(await replays(gw)).toBe(before + 1);
  });
});

test('RESPONSE_CACHE_MB=0 turns replays off', async () => {
  const gw = await startTestGateway({ corpus, backend: 'embedded', env: { RESPONSE_CACHE_MB: '0' } });
  try {
    const token = await gw.token('replay-off');
    const first = await send(gw, HOME(), token);
    const second = await send(gw, HOME(), token);
    expect(withoutId(second)).toBe(withoutId(first));
    expect(await replays(gw)).toBe(0);
  } finally {
    await gw.close();
  }
});
