/**
 * A remote ranker behind the gateway, through HTTP: real inference servers on loopback that can be made slow,
 * broken or hung. The answer comes on time through the fallback and says so; a slow shadow never delays it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { FEED_PIPELINES } from '../../src/pipeline/feeds';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';
import { startTestGateway, type GraphQLBody, type TestGateway } from '../helpers/gateway';
import { startInferenceServer, type InferenceServer } from '../helpers/inference-server';

// Registers the W3C trace-context propagator, so the remote ranker's requests carry `traceparent`.
const provider = new NodeTracerProvider();
provider.register();

const corpus = generateSyntheticCorpus({ posts: 4000, communities: 30, seed: 11 });
/** The remote model: a function of (post_score, num_comments), so the test knows every score. */
const model = (rows: number[][]) => rows.map(([score, comments]) => score! * 0.001 + comments! * 0.01);

/** This configuration has no `lambdamart`: the home feed defaults to `hot`, as a deployment without that model would configure it. */
const WITHOUT_LAMBDAMART = { ...FEED_PIPELINES, home: { ...FEED_PIPELINES.home, scorer: { defaultRanker: 'hot', signedOutRanker: 'hot' } } };

let dir: string;
let primary: InferenceServer;
let shadow: InferenceServer;
let gw: TestGateway;
let redis: TestRedis;
let cluster: TestRedisCluster;
let token: string;

const FEED = (ranker: string) => `{ personalizedFeed(first: 10, ranker: "${ranker}") {
  rankedBy { id version fallbackFrom fallbackReason } edges { score node { score numComments } } } }`;

function ok(body: GraphQLBody): Record<string, any> {
  if (body.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
});

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

// The same behaviour on every store: snapshots, scores and viewer state live where the store keeps them.
describe.each(['embedded', 'redis', 'cluster'] as const)('%s store', (backend) => {
beforeAll(async () => {
  primary = await startInferenceServer({ models: { ranker: model } });
  shadow = await startInferenceServer({ models: { ranker: model } });
  dir = mkdtempSync(path.join(tmpdir(), 'rg-remote-'));
  const file = path.join(dir, 'rankers.json');
  const remote = (url: string) => ({ url, model: 'ranker', features: ['post_score', 'num_comments'], timeoutMs: 300 });
  writeFileSync(
    file,
    JSON.stringify({
      rankers: [
        { id: 'hot', kind: 'hot', version: '1', description: 'hot' },
        { id: 'personalized', kind: 'linear', version: '1', description: 'p', params: { weights: { hot: 1, viewer_affinity: 4 } } },
        { id: 'remote', kind: 'remote', version: 'r1', description: 'a remote model', fallback: 'hot', timeoutMs: 500, params: remote(primary.url) },
        { id: 'remote-no-fallback', kind: 'remote', version: 'r1', description: 'no fallback', timeoutMs: 500, params: remote(primary.url) },
        { id: 'remote-shadow', kind: 'remote', version: 's1', description: 'shadow', public: false, params: remote(shadow.url) },
        { id: 'with-shadow', kind: 'linear', version: '1', description: 'served, with a remote shadow', shadows: ['remote-shadow'], params: { weights: { post_score: 0.001, num_comments: 0.01 } } },
      ],
    }),
  );
  gw = await startTestGateway({ corpus, backend: backend === 'embedded' ? 'embedded' : 'redis', redisUrl: backend === 'cluster' ? cluster.url : backend === 'redis' ? redis.url : undefined, keyPrefix: `t-${backend}:`, rankersConfig: file, pipelines: WITHOUT_LAMBDAMART });
  token = await gw.token('remote-viewer');
});

afterAll(async () => {
  await gw?.close();
  await primary?.close();
  await shadow?.close();
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('a healthy remote ranker serves its scores, speaking KServe v2 and propagating traceparent', async () => {
  primary.setMode('ok');
  const before = primary.requests.length;
  const feed = ok((await gw.query(FEED('remote'), { token: await gw.token('healthy') })).body).personalizedFeed;
  expect(feed.rankedBy).toEqual({ id: 'remote', version: 'r1', fallbackFrom: null, fallbackReason: null });
  for (const e of feed.edges) expect(e.score).toBeCloseTo(Math.fround(Math.fround(e.node.score) * 0.001 + Math.fround(e.node.numComments) * 0.01), 3);
  const req = primary.requests.slice(before).find((r) => r.path === '/v2/models/ranker/infer')!;
  expect(req.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  const body = req.body as { inputs: { datatype: string; shape: number[] }[] };
  expect(body.inputs[0]!.datatype).toBe('FP32');
  expect(body.inputs[0]!.shape[1]).toBe(2);
});

test.each(['hang', 'error', 'garbage'] as const)('a remote ranker in "%s" mode: the fallback answers within the deadline, and the answer says so', async (mode) => {
  primary.setMode(mode);
  const started = Date.now();
  const { status, body } = await gw.query(FEED('remote'), { token: await gw.token(`viewer-${mode}`) });
  const elapsed = Date.now() - started;
  expect(status).toBe(200);
  const feed = ok(body).personalizedFeed;
  expect(feed.rankedBy.id).toBe('hot');
  expect(feed.rankedBy.fallbackFrom).toBe('remote');
  expect(feed.rankedBy.fallbackReason).toBeTruthy();
  expect(feed.edges).toHaveLength(10);
  // Generous bound (this machine is shared): what matters is that a hung server does not hold the answer.
  expect(elapsed).toBeLessThan(5000);
  const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
  expect(metrics).toMatch(/ranking_ranker_fallbacks_total\{variant="remote",fallback="hot",reason="(deadline|error)"\} [1-9]/);
});

test('without a fallback, a failing remote ranker is SERVICE_UNAVAILABLE, and the gateway keeps serving', async () => {
  primary.setMode('error');
  const { body } = await gw.query(FEED('remote-no-fallback'), { token });
  expect(body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
  expect(ok((await gw.query(FEED('hot'), { token })).body).personalizedFeed.edges).toHaveLength(10);
});

test('a shadow that hangs never delays the answer; a healthy one records its agreement', async () => {
  shadow.setMode('hang');
  const before = shadow.requests.length;
  const feed = ok((await gw.query(FEED('with-shadow'), { token: await gw.token('shadowed-1') })).body).personalizedFeed;
  expect(feed.rankedBy.id).toBe('with-shadow');
  // The answer is here although the shadow's server has not answered (it never will in this mode).
  await gw.gateway.feeds.idle();
  expect(shadow.requests.length).toBeGreaterThan(before);

  shadow.setMode('ok');
  ok((await gw.query(FEED('with-shadow'), { token: await gw.token('shadowed-2') })).body);
  await gw.gateway.feeds.idle();
  const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
  expect(metrics).toMatch(/ranking_shadow_failures_total\{variant="with-shadow",shadow="remote-shadow"\} 1/);
  expect(metrics).toMatch(/ranking_shadow_topk_overlap_count\{variant="with-shadow",shadow="remote-shadow"\} 1/);
  // Same model on both sides (the shadow is the served formula, in float32): near-perfect agreement.
  const overlapSum = Number(/ranking_shadow_topk_overlap_sum\{variant="with-shadow",shadow="remote-shadow"\} ([\d.e+-]+)/.exec(metrics)![1]);
  expect(overlapSum).toBeGreaterThan(0.8);
  const tauSum = Number(/ranking_shadow_kendall_tau_sum\{variant="with-shadow",shadow="remote-shadow"\} ([\d.e+-]+)/.exec(metrics)![1]);
  expect(tauSum).toBeGreaterThan(0.9);
});
});

