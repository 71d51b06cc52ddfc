/**
 * What an operator sees, through real HTTP: the span tree of a request (continuing a caller's `traceparent` and
 * passing it on to remote rankers and sources), the Prometheus metrics, readiness against a real Redis, and a
 * graceful shutdown of the built gateway (`node dist/src/main.js`) with requests in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { TokenService } from '../../src/auth/tokens';
import { createRemoteSource } from '../../src/candidates/remote';
import { DEVELOPMENT_JWT_SECRET, loadConfig, NODE_FLAGS } from '../../src/config';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { FEED_PIPELINES, type FeedPipeline, type FeedPipelines } from '../../src/pipeline/feeds';
import { createLogger } from '../../src/telemetry/logger';
import { startTelemetry, type Telemetry } from '../../src/telemetry/sdk';
import { setSpansExported } from '../../src/telemetry/tracing';
import { FAILED_DEFAULTS, tempRankersFile } from '../helpers/rankers-file';
import { startTestGateway, type GraphQLBody, type TestGateway } from '../helpers/gateway';
import { startInferenceServer, type InferenceServer } from '../helpers/inference-server';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';
import { startRetrievalServer, type RetrievalServer } from '../helpers/retrieval-server';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/src/main.js');

// The gateway's own telemetry start-up, with an in-memory exporter beside its stage-metrics processor.
const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
beforeAll(() => {
  telemetry = startTelemetry(loadConfig({ NODE_ENV: 'test' }), createLogger('silent'), { spanProcessors: [new SimpleSpanProcessor(exporter)] });
});
afterAll(async () => {
  await telemetry.shutdown();
});

const corpus = generateSyntheticCorpus({ posts: 4000, communities: 30, seed: 5 });
/** A remote model of (post_score, num_comments). */
const model = (rows: number[][]) => rows.map(([score, comments]) => score! * 0.001 + comments! * 0.01);
const REMOTE_PARAMS = (url: string) => ({ url, model: 'ranker', features: ['post_score', 'num_comments'], timeoutMs: 2000 });

const HOME = (name: string, ranker?: string) =>
  `query ${name} { personalizedFeed(first: 10${ranker ? `, ranker: "${ranker}"` : ''}) { edges { rank node { id title } } rankedBy { id fallbackFrom } } }`;
const PICS = (community: string) => `query Pics { contextualFeed(context: { community: "${community}" }, first: 5) { edges { node { id } } } }`;

function ok(body: GraphQLBody): Record<string, any> {
  if (body.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The spans of one trace, once its server span has ended (it ends when the response is done, just after the client has it). */
function traceOf(traceId: string): Promise<ReadableSpan[]> {
  return waitFor(`the server span of trace ${traceId}`, () => {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    return spans.some((s) => s.kind === SpanKind.SERVER) && spans;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text, parsed: one number per series.

type Samples = Map<string, number>;
const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(',')}}`;

async function scrape(base: string): Promise<{ text: string; samples: Samples }> {
  const res = await fetch(new URL('/metrics', base));
  expect(res.status).toBe(200);
  const text = await res.text();
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.set(seriesKey(m[1]!, labels), Number(m[3]));
  }
  return { text, samples };
}
const sample = (s: Samples, name: string, labels: Record<string, string> = {}) => s.get(seriesKey(name, labels)) ?? 0;

// ---------------------------------------------------------------------------------------------------------------

describe('traces and metrics of real requests', () => {
  let gw: TestGateway;
  let ranker: InferenceServer;
  let retrieval: RetrievalServer;
  let dir: string;

  beforeAll(async () => {
    ranker = await startInferenceServer({ models: { ranker: model } });
    retrieval = await startRetrievalServer(() => corpus.posts.slice(0, 200).map((p) => p.id));
    dir = mkdtempSync(path.join(tmpdir(), 'rg-obs-'));
    const rankersFile = path.join(dir, 'rankers.json');
    // The repository's default variants (model files by absolute path), and a remote model.
    const defaults = JSON.parse(readFileSync(path.join(ROOT, 'models/rankers.json'), 'utf8')) as { rankers: Record<string, any>[] };
    const rankers = defaults.rankers
      .filter((r) => ['lambdamart', 'personalized', 'hot'].includes(r.id))
      .map((r) => (r.kind === 'xgboost' && typeof r.params?.model === 'string' ? { ...r, params: { ...r.params, model: path.join(ROOT, 'models', r.params.model) } } : r));
    rankers.push({ id: 'remote', kind: 'remote', version: 'r1', description: 'a remote model', fallback: 'hot', timeoutMs: 2000, params: REMOTE_PARAMS(ranker.url) });
    writeFileSync(rankersFile, JSON.stringify({ rankers }));
    // The community feed also asks a remote retrieval service (fail open, 300 ms).
    const pipelines: FeedPipelines = {
      ...FEED_PIPELINES,
      community: {
        ...FEED_PIPELINES.community,
        sources: [...FEED_PIPELINES.community.sources, { source: createRemoteSource({ name: 'retrieval', url: retrieval.url }), limit: 100, timeoutMs: 300 }],
      },
    };
    // Replayed responses skip GraphQL; this file looks at the GraphQL path (replays: response-cache.test.ts).
    gw = await startTestGateway({ corpus, backend: 'embedded', rankersConfig: rankersFile, pipelines, env: { RESPONSE_CACHE_MB: '0' } });
  });

  afterAll(async () => {
    await gw?.close();
    await ranker?.close();
    await retrieval?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('one cold home request is one trace: the server span, then the stages, with counts and no user data', async () => {
    exporter.reset();
    const token = await gw.token('trace-viewer');
    const res = await gw.query(HOME('Home'), { token });
    const data = ok(res.body);
    expect(data.personalizedFeed.edges).toHaveLength(10);
    const requestId = (res.body as { extensions?: { requestId?: string } }).extensions?.requestId;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const server = await waitFor('the server span', () => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER));
    const spans = await traceOf(server.spanContext().traceId);
    const one = (name: string): ReadableSpan => {
      const found = spans.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0]!;
    };
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const id = (s: ReadableSpan) => s.spanContext().spanId;

    expect(server.name).toBe('POST /graphql');
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.name': 'Home',
      'graphql.operation.type': 'query',
      'graphql.root_fields': 'personalizedFeed',
      'gateway.request_id': requestId,
    });

    // The tree (drawn in the README): server -> cache.get (the session's snapshot: a miss), feed.session ->
    // cache.scores.get (a miss), feed.build -> pipeline.candidates -> candidates.<source>, features.hydrate ->
    // features.posts, features.communities; feed.build -> rank.score, cache.scores.put; feed.session -> cache.put.
    const snapshotRead = one('cache.get');
    const session = one('feed.session');
    const scoresRead = one('cache.scores.get');
    const build = one('feed.build');
    const gather = one('pipeline.candidates');
    const subs = one('candidates.subscriptions');
    const popular = one('candidates.popular');
    const hydrate = one('features.hydrate');
    const score = one('rank.score');
    expect(parentOf(snapshotRead)).toBe(id(server));
    expect(parentOf(session)).toBe(id(server));
    // Read ahead with the session lookup (one round trip), so it hangs off the request, not the session.
    expect(parentOf(scoresRead)).toBe(id(server));
    expect(parentOf(build)).toBe(id(session));
    expect(parentOf(gather)).toBe(id(build));
    for (const s of [subs, popular, hydrate]) expect(parentOf(s)).toBe(id(gather));
    expect(parentOf(score)).toBe(id(build));
    expect(parentOf(one('features.posts'))).toBe(id(hydrate));
    expect(parentOf(one('features.communities'))).toBe(id(gather));
    expect(parentOf(one('cache.scores.put'))).toBe(id(build));
    expect(parentOf(one('cache.put'))).toBe(id(session));
    // Every span of the request hangs off the server span.
    const ids = new Set(spans.map(id));
    for (const s of spans) if (s !== server) expect(ids.has(parentOf(s)!)).toBe(true);

    // Feed, ranker, candidate counts, cache hit or miss.
    expect(session.attributes['feed.kind']).toBe('home');
    expect(gather.attributes['feed.kind']).toBe('home');
    expect(subs.attributes['candidates.count']).toBeGreaterThan(0);
    expect(gather.attributes['candidates.kept']).toBeGreaterThan(0);
    expect(score.attributes['ranker.id']).toBe('lambdamart');
    expect(score.attributes['batch.rows']).toBe(gather.attributes['candidates.kept']);
    expect(snapshotRead.attributes['cache.hit']).toBe(false);
    expect(scoresRead.attributes['cache.hit']).toBe(false);

    // No user id, no token on any span.
    const everything = JSON.stringify(spans.map((s) => s.attributes));
    expect(everything).not.toContain('trace-viewer');
    expect(everything).not.toContain(token);

    // The same request again is one cache read, a hit.
    exporter.reset();
    const again = await gw.query(HOME('Home'), { token });
    ok(again.body);
    const warmServer = await waitFor('the warm server span', () => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER));
    const warm = await traceOf(warmServer.spanContext().traceId);
    expect(warm.filter((s) => s.name === 'feed.build')).toHaveLength(0);
    expect(warm.find((s) => s.name === 'cache.get')?.attributes['cache.hit']).toBe(true);
  });

  test('a request with a traceparent header continues that trace and passes it on to a remote ranker', async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const before = ranker.requests.length;
    const res = await gw.query(HOME('Remote', 'remote'), { token: await gw.token('traceparent-viewer'), headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    expect(ok(res.body).personalizedFeed.rankedBy).toEqual({ id: 'remote', fallbackFrom: null });

    const spans = await traceOf(traceId);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.parentSpanContext).toMatchObject({ traceId, spanId: callerSpan, isRemote: true });
    for (const name of ['feed.session', 'feed.build', 'pipeline.candidates', 'rank.score', 'rank.remote']) {
      expect(spans.map((s) => s.name)).toContain(name);
    }
    // No span of this request went to another trace.
    expect(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId !== traceId && s.name.startsWith('feed.'))).toEqual([]);

    // The inference server was called inside rank.remote, in the caller's trace.
    const infer = ranker.requests.slice(before).find((r) => r.path === '/v2/models/ranker/infer')!;
    const remote = spans.find((s) => s.name === 'rank.remote')!;
    expect(infer.headers.traceparent).toBe(`00-${traceId}-${remote.spanContext().spanId}-01`);
  });

  test('a remote candidate source receives the trace too', async () => {
    exporter.reset();
    retrieval.setMode('ok');
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const before = retrieval.requests.length;
    ok((await gw.query(PICS(corpus.communities[0]!.name), { headers: { traceparent: `00-${traceId}-1111111111111111-01` } })).body);
    const spans = await traceOf(traceId);
    const call = spans.find((s) => s.name === 'candidates.remote.call')!;
    expect(call).toBeDefined();
    expect(retrieval.requests[before]?.headers.traceparent).toBe(`00-${traceId}-${call.spanContext().spanId}-01`);
  });

  test('an unsampled traceparent exports nothing and is still measured', async () => {
    exporter.reset();
    const { samples: before } = await scrape(gw.url);
    const traceId = '0123456789abcdef0123456789abcdef';
    ok((await gw.query(HOME('Unsampled'), { token: await gw.token('unsampled-viewer'), headers: { traceparent: `00-${traceId}-2222222222222222-00` } })).body);
    const after = await waitFor('the build to be measured', async () => {
      const { samples } = await scrape(gw.url);
      return sample(samples, 'ranking_stage_duration_seconds_count', { stage: 'feed.build' }) > sample(before, 'ranking_stage_duration_seconds_count', { stage: 'feed.build' }) && samples;
    });
    expect(sample(after, 'graphql_operation_duration_seconds_count', { operation: 'Unsampled', type: 'query', root_fields: 'personalizedFeed' })).toBe(1);
    expect(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)).toEqual([]);
  });

  // Both ways the stage metrics are recorded: from stage spans when spans are exported, by timing the stages when not.
  describe.each([
    ['spans exported', true, 0],
    ['no exporter', false, 1],
  ] as const)('%s', (mode, exported, n) => {
    beforeEach(() => exporter.reset());
    afterEach(() => setSpansExported(true));

    test(`/metrics: latency per operation and per stage, cache hits and misses of a cold then a warm request (${mode})`, async () => {
      setSpansExported(exported);
      const token = await gw.token(`metrics-viewer-${n}`);
      const name = `ColdThenWarm${n}`;
      const op = { operation: name, type: 'query', root_fields: 'personalizedFeed' };
      const snapshots = (s: Samples, result: string) => sample(s, 'ranking_cache_lookups_total', { cache: 'snapshots', result });
      const scores = (s: Samples, result: string) => sample(s, 'ranking_cache_lookups_total', { cache: 'scores', result });

      const { samples: s0 } = await scrape(gw.url);
      ok((await gw.query(HOME(name), { token })).body);
      // The metrics of a request are recorded when its response is done, a moment after the client has it.
      const s1 = await waitFor('the cold request in /metrics', async () => {
        const { samples } = await scrape(gw.url);
        return sample(samples, 'graphql_operation_duration_seconds_count', op) === 1 && samples;
      });
      expect(snapshots(s1, 'miss') - snapshots(s0, 'miss')).toBe(1);
      expect(scores(s1, 'miss') - scores(s0, 'miss')).toBe(1);
      expect(snapshots(s1, 'hit') - snapshots(s0, 'hit')).toBe(0);
      expect(scores(s1, 'hit') - scores(s0, 'hit')).toBe(0);

      ok((await gw.query(HOME(name), { token })).body);
      const { text, samples: s2 } = await waitFor('the warm request in /metrics', async () => {
        const scraped = await scrape(gw.url);
        return sample(scraped.samples, 'graphql_operation_duration_seconds_count', op) === 2 && scraped;
      });
      expect(snapshots(s2, 'hit') - snapshots(s1, 'hit')).toBe(1);
      expect(snapshots(s2, 'miss') - snapshots(s1, 'miss')).toBe(0);
      expect(scores(s2, 'miss') - scores(s1, 'miss')).toBe(0);

      // Per operation: a histogram with buckets, a count and a sum.
      expect(sample(s2, 'graphql_operation_duration_seconds_bucket', { ...op, le: '+Inf' })).toBe(2);
      expect(sample(s2, 'graphql_operation_duration_seconds_sum', op)).toBeGreaterThan(0);
      expect(sample(s2, 'http_request_duration_seconds_count', { route: '/graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(2);
      // Per stage: every stage of the cold request was observed (at least once, this file ran others before).
      const stages = ['feed.session', 'feed.build', 'pipeline.candidates', 'candidates.subscriptions', 'candidates.popular', 'features.hydrate', 'features.posts', 'rank.score', 'cache.get', 'cache.put', 'cache.scores.get', 'cache.scores.put'];
      expect(stages.filter((stage) => !(sample(s2, 'ranking_stage_duration_seconds_count', { stage }) > 0))).toEqual([]);
      expect(sample(s2, 'ranking_stage_duration_seconds_bucket', { stage: 'rank.score', le: '+Inf' })).toBe(sample(s2, 'ranking_stage_duration_seconds_count', { stage: 'rank.score' }));
      // The metrics the ranking code records itself are there too.
      for (const name of ['ranking_ranker_fallbacks_total', 'ranking_experiment_exposures_total', 'ranking_source_failures_total', 'graphql_errors_total', 'http_requests_in_flight']) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      // No user id in any label.
      expect(text).not.toContain('metrics-viewer');
      // Without an exporter the stages are timed without spans: none is made but the request's own.
      if (!exported) expect(exporter.getFinishedSpans().filter((sp) => sp.kind !== SpanKind.SERVER)).toEqual([]);
    });

    test(`/metrics: candidate sources that fail or time out, ranker fallbacks, error codes (${mode})`, async () => {
      setSpansExported(exported);
      const community = corpus.communities[1 + 2 * n]!.name;
      const failures = (s: Samples, reason: string) => sample(s, 'ranking_source_failures_total', { source: 'retrieval', reason });
      const { samples: s0 } = await scrape(gw.url);

      retrieval.setMode('slow', 2000);
      const slow = await gw.query(PICS(community));
      expect((slow.body as { extensions?: { ranking?: { degraded?: { source: string }[] } } }).extensions?.ranking?.degraded?.map((d) => d.source)).toEqual(['retrieval']);
      retrieval.setMode('error');
      // Another context, so the degraded (briefly cached) list of the first is not reused.
      await gw.query(PICS(corpus.communities[2 + 2 * n]!.name));
      retrieval.setMode('ok');

      ranker.setMode('error');
      const fellBack = ok((await gw.query(HOME('Fallback', 'remote'), { token: await gw.token(`fallback-viewer-${n}`) })).body);
      expect(fellBack.personalizedFeed.rankedBy).toEqual({ id: 'hot', fallbackFrom: 'remote' });
      ranker.setMode('ok');

      await gw.query(`query Broken${n} { personalizedFeed(first: 5, ranker: "no-such-ranker") { edges { rank } } }`, { token: await gw.token('x') });

      const s1 = await waitFor('the failures in /metrics', async () => {
        const { samples } = await scrape(gw.url);
        return sample(samples, 'graphql_errors_total', { operation: `Broken${n}`, code: 'UNKNOWN_RANKER' }) === 1 && samples;
      });
      expect(failures(s1, 'timeout') - failures(s0, 'timeout')).toBe(1);
      expect(failures(s1, 'error') - failures(s0, 'error')).toBe(1);
      expect(sample(s1, 'ranking_ranker_fallbacks_total', { variant: 'remote', fallback: 'hot', reason: 'error' })).toBeGreaterThanOrEqual(1);
    });
  });

  test('operation names a client makes up cannot grow the registry without bound', async () => {
    const names = Array.from({ length: 220 }, (_, i) => `Made${i}Up`);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => gw.query(`query ${n} { rankers { id } }`)));
    const { samples } = await waitFor('the requests in /metrics', async () => {
      const scraped = await scrape(gw.url);
      return sample(scraped.samples, 'http_requests_in_flight') <= 1 && scraped;
    });
    const series = [...samples.keys()].filter((k) => k.startsWith('graphql_operation_duration_seconds_count{'));
    expect(series.length).toBeLessThanOrEqual(201);
    expect(sample(samples, 'graphql_operation_duration_seconds_count', { operation: 'other', type: 'query', root_fields: 'other' })).toBeGreaterThan(0);
  });

  test('every response carries its request id in a header too', async () => {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ rankers { id } }' }) });
    const body = (await res.json()) as { extensions: { requestId: string } };
    expect(res.headers.get('x-request-id')).toBe(body.extensions.requestId);
    const health = await fetch(new URL('/healthz', gw.url));
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('replayed responses in traces', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ corpus, backend: 'embedded' });
  });

  afterAll(async () => {
    setSpansExported(true);
    await gw?.close();
  });

  const serverSpans = () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
  const post = async (token: string) => {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: HOME('Replayed') }) });
    ok((await res.json()) as GraphQLBody);
    return res.headers.get('x-request-id');
  };
  const replays = async () => {
    const metric = await gw.gateway.metrics.registry.getSingleMetric('ranking_cache_lookups_total')!.get();
    return metric.values.filter((v) => v.labels.cache === 'responses' && v.labels.result === 'hit').reduce((n, v) => n + v.value, 0);
  };

  test('with spans exported a replay has its server span, from arrival to answer; without, only GraphQL requests make one', async () => {
    const token = await gw.token('replay-trace-viewer');
    await post(token);
    exporter.reset();
    const sent = Date.now();
    const replayId = await post(token);
    const answered = Date.now();
    const span = await waitFor('the replay server span', () => serverSpans()[0]);
    expect(span.attributes).toMatchObject({ 'cache.replayed': true, 'graphql.operation.name': 'Replayed', 'http.response.status_code': 200, 'gateway.request_id': replayId });
    // Started when the request arrived, though made once it was known to be a replay.
    expect(ms(span.startTime)).toBeGreaterThanOrEqual(sent - 5);
    expect(ms(span.startTime)).toBeLessThan(ms(span.endTime));
    expect(ms(span.endTime)).toBeLessThanOrEqual(answered + 50);
    // A replay runs no stage.
    expect(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === span.spanContext().traceId)).toHaveLength(1);

    // Spans that go nowhere are not made for replays; a GraphQL request still has its tree (the stages need it).
    setSpansExported(false);
    exporter.reset();
    const before = await replays();
    await post(token);
    expect(await replays()).toBe(before + 1);
    const coldId = await post(await gw.token('replay-trace-other'));
    expect(await replays()).toBe(before + 1);
    const coldSpan = await waitFor('the GraphQL request server span', () => serverSpans()[0]);
    expect(coldSpan.attributes['gateway.request_id']).toBe(coldId);
    expect(serverSpans()).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('/readyz', () => {
  let redis: TestRedis;
  let gw: TestGateway;

  beforeAll(async () => {
    redis = await startRedisServer();
    gw = await startTestGateway({ corpus, backend: 'redis', redisUrl: redis.url, keyPrefix: 'rgobs:' });
  });

  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
  });

  const readyz = async () => {
    const res = await fetch(new URL('/readyz', gw.url));
    return { status: res.status, body: (await res.json()) as { status: string; reasons: string[]; checks: Record<string, any> } };
  };

  test('200 while Redis answers; 503 with a reason when it is gone; 200 again when it is back', async () => {
    const healthy = await readyz();
    expect(healthy).toMatchObject({ status: 200, body: { status: 'ready', reasons: [] } });
    expect(healthy.body.checks.store).toEqual({ kind: 'redis', ok: true });
    expect(healthy.body.checks.rankers.required).toEqual(expect.arrayContaining(['lambdamart', 'hot', 'personalized']));

    const port = redis.port;
    await redis.kill();
    const down = await waitFor('readiness to fail', async () => {
      const r = await readyz();
      return r.status === 503 && r;
    });
    expect(down.body.status).toBe('unavailable');
    expect(down.body.reasons.join(' ')).toMatch(/store \(redis\): .*Redis/);
    expect(down.body.checks.store.ok).toBe(false);
    // Liveness is not readiness: the process is fine.
    expect((await fetch(new URL('/healthz', gw.url))).status).toBe(200);

    redis = await startRedisServer({ port });
    await waitFor('readiness to come back', async () => (await readyz()).status === 200, 20_000);
  });

  test('503 when a ranker a feed defaults to has no version serving', async () => {
    // Both configured, neither loads: a model file that is not there, a linear ranker of a feature that does not exist.
    const rankers = tempRankersFile({
      rankers: [
        FAILED_DEFAULTS.hot,
        FAILED_DEFAULTS.lambdamart,
        { id: 'personalized', kind: 'linear', version: '1', description: 'broken', params: { weights: { no_such_feature: 1 } } },
      ],
    });
    const partial = await startTestGateway({ corpus, backend: 'embedded', rankersConfig: rankers.file });
    try {
      const res = await fetch(new URL('/readyz', partial.url));
      expect(res.status).toBe(503);
      const body = (await res.json()) as { reasons: string[]; checks: { rankers: { missing: string[] } } };
      expect(body.checks.rankers.missing).toEqual(['lambdamart', 'personalized']);
      expect(body.reasons).toContain('ranker "lambdamart" has no version serving (FAILED)');
      // Meanwhile the feeds serve with their signed-out default.
      const feed = await partial.query('{ personalizedFeed(first: 3) { rankedBy { id } edges { rank } } }', { token: await partial.token('ready-viewer') });
      expect(feed.body.data?.personalizedFeed).toMatchObject({ rankedBy: { id: 'hot' }, edges: [{ rank: 1 }, { rank: 2 }, { rank: 3 }] });
    } finally {
      await partial.close();
      rankers.remove();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Spawned {
  readonly child: ChildProcess;
  readonly base: string;
  readonly port: number;
  readonly logs: Record<string, any>[];
  readonly stdout: () => string;
  readonly exited: Promise<{ code: number | null; at: number }>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<Record<string, any>>;
}

/** Starts the built gateway and resolves once it logs the address it serves. */
function spawnGateway(env: Record<string, string>): Promise<Spawned> {
  const child = spawn(process.execPath, [...NODE_FLAGS, MAIN], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', LOG_LEVEL: 'info', RANKERS_WATCH: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  let out = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  const waitForLog = (pattern: RegExp, timeoutMs = 30_000) =>
    waitFor(`a log line matching ${pattern}`, () => logs.find((l) => pattern.test(String(l.msg))), timeoutMs);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    out += `${line}\n`;
    try {
      logs.push(JSON.parse(line) as Record<string, any>);
    } catch {
      // not a log line
    }
  });
  return new Promise((resolve, reject) => {
    exited.then(({ code }) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
    waitForLog(/serving http/, 60_000).then((started) => {
      const url = /serving (http:\/\/\S+)\/graphql/.exec(String(started.msg))![1]!;
      resolve({ child, base: url, port: Number(new URL(url).port), logs, stdout: () => out, exited, waitForLog });
    }, reject);
  });
}

/** One keep-alive connection on which requests are written by hand, so one can be sent while another is in flight. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void>; send(request: string): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += String(d)));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => data, closed, send: (r) => socket.write(r) }));
  });
}

function graphqlRequest(query: string, token: string): string {
  const body = JSON.stringify({ query });
  return `POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nAccept: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

const refused = (port: number) =>
  new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });

/** An OTLP/HTTP collector that keeps what it is sent. */
async function startCollector(): Promise<{ url: string; posts: { path: string; type: string; body: Buffer }[]; close(): Promise<void> }> {
  const posts: { path: string; type: string; body: Buffer }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', type: String(req.headers['content-type']), body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, posts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('graceful shutdown of the built gateway (dist/src/main.js)', () => {
  const tokens = new TokenService(DEVELOPMENT_JWT_SECRET);
  const SLOW = `{ personalizedFeed(first: 100, ranker: "slow") { edges { rank node { id } } rankedBy { id fallbackFrom } } }`;
  let ranker: InferenceServer;
  let dir: string;
  let rankersFile: string;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    ranker = await startInferenceServer({ models: { ranker: model } });
    dir = mkdtempSync(path.join(tmpdir(), 'rg-drain-'));
    rankersFile = path.join(dir, 'rankers.json');
    // The repository's variants (model files by absolute path), plus a remote model the test makes as slow as it likes.
    const config = JSON.parse(readFileSync(path.join(ROOT, 'models/rankers.json'), 'utf8')) as { rankers: Record<string, any>[] };
    for (const r of config.rankers) if ((r.kind === 'xgboost' || r.kind === 'onnx') && typeof r.params?.model === 'string') r.params.model = path.join(ROOT, 'models', r.params.model);
    config.rankers.push({ id: 'slow', kind: 'remote', version: 's1', description: 'slow on purpose', timeoutMs: 30_000, params: { ...REMOTE_PARAMS(ranker.url), timeoutMs: 30_000 } });
    writeFileSync(rankersFile, JSON.stringify(config));
  });

  afterAll(async () => {
    await ranker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inferCalls = () => ranker.requests.filter((r) => r.path === '/v2/models/ranker/infer').length;

  test('SIGTERM: readiness turns 503, new connections are refused, every request in flight completes, spans are flushed, exit 0', async () => {
    ranker.setMode('slow', 3000);
    const collector = await startCollector();
    const gw = await spawnGateway({ RANKERS_CONFIG: rankersFile, SHUTDOWN_GRACE_MS: '20000', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url });
    try {
      expect((await fetch(`${gw.base}/readyz`)).status).toBe(200);
      const before = inferCalls();

      // Five cold feeds over fetch, and one on a connection of our own.
      const viewers = ['drain-a', 'drain-b', 'drain-c', 'drain-d', 'drain-e'];
      const inFlight = viewers.map(async (v) => {
        const res = await fetch(`${gw.base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokens.sign(v)}` },
          body: JSON.stringify({ query: SLOW }),
        });
        return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as GraphQLBody & { extensions?: { requestId?: string } } };
      });
      const raw = await rawConnection(gw.port);
      const rawToken = await tokens.sign('drain-raw');
      raw.send(graphqlRequest(SLOW, rawToken));

      // Every one of them has reached the ranker: they are in flight in the gateway, not queued in a socket.
      await waitFor('six requests at the ranker', () => inferCalls() - before >= 6, 20_000);
      const signalled = Date.now();
      gw.child.kill('SIGTERM');
      await gw.waitForLog(/^shutting down/, 5000);

      // During the drain: a request on a connection that was already open is answered, and readiness says 503.
      raw.send('GET /readyz HTTP/1.1\r\nHost: gateway\r\n\r\n');
      // A new connection is refused.
      expect(await refused(gw.port)).toBe('ECONNREFUSED');

      const answers = await Promise.all(inFlight);
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body.errors).toBeUndefined();
        expect(a.body.data?.personalizedFeed.edges).toHaveLength(100);
        expect(a.body.data?.personalizedFeed.rankedBy).toEqual({ id: 'slow', fallbackFrom: null });
        expect(a.requestId).toBe(a.body.extensions?.requestId);
      }
      await raw.closed;
      // Pipelined answers come back to back, in order: the feed (200), then readiness during the drain (503).
      const statuses = [...raw.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      expect(statuses).toEqual([200, 503]);
      expect(raw.received()).toMatch(/"edges":\[\{"rank":1/);
      expect(raw.received()).toMatch(/"status":"unavailable".*not accepting connections/);

      const { code, at } = await gw.exited;
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(20_000);

      // One log line per request, with the request id the client got back; no token anywhere in the logs.
      const lines = gw.logs.filter((l) => l.msg === 'request' && l.path === '/graphql');
      for (const a of answers) expect(lines.find((l) => l.requestId === a.requestId)).toMatchObject({ method: 'POST', status: 200, operation: 'anonymous', rootFields: 'personalizedFeed' });
      expect(gw.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['requests in flight finished; closing', 'stopped']));
      expect(gw.stdout()).not.toContain(rawToken);
      expect(gw.stdout()).not.toMatch(/Bearer|authorization/i);

      // The spans of those requests reached the collector before the exit (the batch exporter waits 5 s between
      // exports otherwise: these were flushed by the shutdown).
      const exported = collector.posts.filter((p) => p.path === '/v1/traces').map((p) => p.body.toString('utf8'));
      expect(exported.length).toBeGreaterThan(0);
      expect(collector.posts.every((p) => p.type.startsWith('application/json'))).toBe(true);
      const all = exported.join('\n');
      expect(all).toContain('"ranking-gateway"');
      for (const a of answers) {
        const traceId = lines.find((l) => l.requestId === a.requestId)!.traceId as string;
        expect(all).toContain(traceId);
      }
      expect(all).not.toContain(rawToken);
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
      await collector.close();
    }
  });

  test('requests still running at SHUTDOWN_GRACE_MS: the process exits 1 without them', async () => {
    ranker.setMode('slow', 8000);
    const gw = await spawnGateway({ RANKERS_CONFIG: rankersFile, SHUTDOWN_GRACE_MS: '500' });
    try {
      const before = inferCalls();
      const pending = fetch(`${gw.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokens.sign('too-slow')}` },
        body: JSON.stringify({ query: SLOW }),
      }).then(
        (r) => r.status,
        () => 'failed',
      );
      await waitFor('the request at the ranker', () => inferCalls() > before, 20_000);
      const signalled = Date.now();
      gw.child.kill('SIGTERM');
      const { code, at } = await gw.exited;
      expect(code).toBe(1);
      expect(at - signalled).toBeLessThan(5000);
      expect(await pending).toBe('failed');
      expect(gw.logs.map((l) => l.msg)).toContain('requests still in flight after SHUTDOWN_GRACE_MS: exiting without them');
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });

  test('a second signal during the drain exits 1 at once', async () => {
    ranker.setMode('slow', 8000);
    const gw = await spawnGateway({ RANKERS_CONFIG: rankersFile, SHUTDOWN_GRACE_MS: '20000' });
    try {
      const before = inferCalls();
      const pending = fetch(`${gw.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokens.sign('impatient')}` },
        body: JSON.stringify({ query: SLOW }),
      }).catch(() => null);
      await waitFor('the request at the ranker', () => inferCalls() > before, 20_000);
      const signalled = Date.now();
      gw.child.kill('SIGTERM');
      await gw.waitForLog(/^shutting down/, 5000);
      gw.child.kill('SIGINT');
      const { code, at } = await gw.exited;
      expect(code).toBe(1);
      expect(at - signalled).toBeLessThan(5000);
      await pending;
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });
});
