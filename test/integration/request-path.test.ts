/**
 * What happens inside one feed request: the spans of each stage, the batching of store reads, and how unexpected
 * failures reach the client.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { seedStore } from '../../src/bootstrap';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { EmbeddedStore } from '../../src/store/embedded';
import type { Store } from '../../src/store/store';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

const corpus = generateSyntheticCorpus({ posts: 5000, communities: 40, seed: 7 });

const HOME = `{ personalizedFeed(first: 10) { edges { rank node { id title community { name subscribers } } } rankedBy { id } } }`;

/** Wraps a store to count calls per method, and optionally make one method fail. */
function instrument(store: Store, failing?: keyof Store): { store: Store; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        if (prop === failing) return Promise.reject(new Error('disk on fire at /secret/path'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

afterAll(async () => {
  await provider.shutdown();
});

describe('one cold home feed request', () => {
  let gw: TestGateway;
  let calls: Record<string, number>;

  beforeAll(async () => {
    const seeded = new EmbeddedStore();
    await seedStore(seeded, corpus);
    const instrumented = instrument(seeded);
    calls = instrumented.calls;
    // Replayed responses read nothing; this file counts the reads of the GraphQL path (replays: response-cache.test.ts).
    gw = await startTestGateway({ corpus, backend: 'embedded', store: instrumented.store, env: { RESPONSE_CACHE_MB: '0' } });
  });

  afterAll(async () => {
    await gw?.close();
  });

  test('has a span per stage, nested under the pipeline, with counts and no user data', async () => {
    exporter.reset();
    const token = await gw.token('span-viewer');
    const { body } = await gw.query(HOME, { token });
    expect(body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const one = (n: string): ReadableSpan => {
      const found = byName(n);
      expect(found.map((s) => s.name)).toEqual([n]);
      return found[0]!;
    };
    const session = one('feed.session');
    const build = one('feed.build');
    const putScores = one('cache.scores.put');
    const candidates = one('pipeline.candidates');
    const subs = one('candidates.subscriptions');
    const popular = one('candidates.popular');
    const hydrate = one('features.hydrate');
    const score = one('rank.score');
    const put = one('cache.put');
    expect(byName('cache.get').length).toBeGreaterThanOrEqual(1);
    const parent = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    expect(parent(candidates)).toBe(build.spanContext().spanId);
    for (const s of [subs, popular, hydrate]) expect(parent(s)).toBe(candidates.spanContext().spanId);
    for (const s of [score, putScores]) expect(parent(s)).toBe(build.spanContext().spanId);
    expect(parent(build)).toBe(session.spanContext().spanId);
    expect(parent(put)).toBe(session.spanContext().spanId);
    expect(candidates.attributes['feed.kind']).toBe('home');
    expect(score.attributes['ranker.id']).toBe('lambdamart');
    expect(subs.attributes['candidates.count']).toBeGreaterThan(0);
    expect(score.attributes['batch.rows']).toBe(candidates.attributes['candidates.kept']);
    // Spans carry ids and counts only: not the viewer's id, not their token.
    const everything = JSON.stringify(spans.map((s) => s.attributes));
    expect(everything).not.toContain('span-viewer');
    expect(everything).not.toContain(token);
    // All spans of the request belong to one trace.
    expect(new Set([session, build, candidates, subs, popular, hydrate, score, put, putScores].map((s) => s.spanContext().traceId)).size).toBe(1);
  });

  test('reads posts and communities in one batch each, including the fields of the answer', async () => {
    for (const k of Object.keys(calls)) delete calls[k];
    const { body } = await gw.query(HOME, { token: await gw.token('batch-viewer') });
    expect(body.errors).toBeUndefined();
    // Hydration batches every candidate in one getPosts; node { title } then comes from the same DataLoader, which
    // asks this (embedded) store's in-process peekPost instead of reading again.
    expect(calls.getPosts).toBe(1);
    expect(calls.getCommunities).toBe(1);
    // Both candidate sources read their indexes in one call each.
    expect(calls.readIndexes).toBe(2);
  });

  test('a cached page reads its posts without a store batch: the embedded store answers them in process', async () => {
    const token = await gw.token('batch-viewer');
    for (const k of Object.keys(calls)) delete calls[k];
    const { body } = await gw.query(HOME, { token });
    expect(body.errors).toBeUndefined();
    expect(calls.readIndexes).toBeUndefined();
    expect(calls.getPosts).toBeUndefined();
    const edges = (body.data as { personalizedFeed: { edges: unknown[] } }).personalizedFeed.edges.length;
    expect(edges).toBeGreaterThan(0);
    expect(calls.peekPost).toBeGreaterThanOrEqual(edges);
    expect(calls.getCommunities).toBe(1);
  });
});

describe('unexpected failures', () => {
  test('are masked as INTERNAL_SERVER_ERROR without internals, and the gateway keeps serving', async () => {
    const seeded = new EmbeddedStore();
    await seedStore(seeded, corpus);
    const { store } = instrument(seeded, 'getPosts');
    const gw = await startTestGateway({ corpus, backend: 'embedded', store });
    try {
      const { status, body } = await gw.query(HOME, { token: await gw.token('x') });
      expect(status).toBe(200);
      expect(body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(body)).not.toContain('/secret/path');
      const again = await gw.query('{ rankers { id } }');
      expect(again.body.data?.rankers.length).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }
  });
});
