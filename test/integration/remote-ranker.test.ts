import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FeatureBatch, Ranker, RankerFactoryContext, RankerSpec } from '../../src/rankers/ranker';
import { createRemoteRanker } from '../../src/rankers/remote';
import { startInferenceServer, type InferenceServer } from '../helpers/inference-server';

const FEATURES = ['hot', 'viewer_affinity', 'post_score'];
const ctx: RankerFactoryContext = { resolvePath: (p) => p, ranker: () => undefined };
/** The served model: a weighted sum, so every score is checkable by hand. */
const blend = (rows: number[][]) => rows.map((r) => 2 * r[0]! + 0.5 * r[1]! - r[2]!);

let server: InferenceServer;
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(async () => {
  // Registers the global tracer provider, the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  server = await startInferenceServer({ models: { blend } });
});
afterAll(async () => {
  await server.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => {
  server.setMode('ok');
  server.requests.length = 0;
  exporter.reset();
});

function spec(params: Record<string, unknown> = {}, version = 'blend-3'): RankerSpec {
  return { id: 'remote-blend', kind: 'remote', version, description: 'test', params: { url: server.url, model: 'blend', features: FEATURES, ...params } };
}

async function ranker(params: Record<string, unknown> = {}): Promise<Ranker> {
  return createRemoteRanker(spec(params), ctx);
}

/** Values exactly representable in float32, so what the server computes equals the JS model function. */
function batch(rows: number): FeatureBatch {
  const values = new Float64Array(rows * FEATURES.length);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 7) % 13) / 4 - 1;
  return { features: FEATURES, rows, values };
}

function rowsOf(b: FeatureBatch): number[][] {
  const w = b.features.length;
  return Array.from({ length: b.rows }, (_, r) => Array.from(b.values.subarray(r * w, r * w + w)));
}

function permute(b: FeatureBatch, perm: number[]): FeatureBatch {
  const w = b.features.length;
  const values = new Float64Array(b.values.length);
  perm.forEach((src, dst) => values.set(b.values.subarray(src * w, src * w + w), dst * w));
  return { ...b, values };
}

describe('remote ranker (Open Inference Protocol / KServe v2)', () => {
  test('the helper server answers health and metadata', async () => {
    expect(await (await fetch(`${server.url}/v2/health/ready`)).json()).toEqual({ ready: true });
    const meta = (await (await fetch(`${server.url}/v2/models/blend`)).json()) as { name: string; inputs: unknown[] };
    expect(meta.name).toBe('blend');
    expect(meta.inputs).toEqual([{ name: 'input__0', datatype: 'FP32', shape: [-1, -1] }]);
    expect((await fetch(`${server.url}/v2/models/nope`)).status).toBe(404);
  });

  test('scores equal the served model, one per row, same order; a shuffled batch gives shuffled scores', async () => {
    const r = await ranker();
    const b = batch(40);
    const scores = await r.score(b);
    expect(Array.from(scores)).toEqual(blend(rowsOf(b)));

    const perm = Array.from({ length: 40 }, (_, i) => (i * 17 + 3) % 40); // 17 is coprime with 40
    const shuffled = await r.score(permute(b, perm));
    expect(Array.from(shuffled)).toEqual(perm.map((src) => scores[src]));
  });

  test('the request is a KServe v2 infer call: one FP32 input [n, f], flattened row-major, with an id', async () => {
    const r = await ranker({ headers: { 'x-api-key': 'k1' } });
    const b = batch(3);
    await r.score(b);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v2/models/blend/infer');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-api-key']).toBe('k1');
    expect(req.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      inputs: [{ name: 'input__0', shape: [3, 3], datatype: 'FP32', data: Array.from(b.values) }],
    });
  });

  test('a missing value is sent as missingValue (0 by default), or refused when missingValue is "error"', async () => {
    const b = batch(2);
    b.values[4] = NaN;
    await (await ranker()).score(b);
    await (await ranker({ missingValue: -1 })).score(b);
    const sent = server.requests.map((q) => (q.body as { inputs: Array<{ data: number[] }> }).inputs[0]!.data[4]);
    expect(sent).toEqual([0, -1]);
    await expect((await ranker({ missingValue: 'error' })).score(b)).rejects.toThrow(
      /ranker "remote-blend" \(remote\): row 1 has a missing "viewer_affinity" and missingValue is "error"/,
    );
  });

  test('traceparent carries the active trace, with the rank.remote span as parent', async () => {
    const r = await ranker();
    const tracer = trace.getTracer('test');
    const parent = tracer.startSpan('request');
    await context.with(trace.setSpan(context.active(), parent), () => r.score(batch(5)));
    parent.end();

    const traceparent = server.requests[0]!.headers.traceparent;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, parentId] = (traceparent as string).split('-');
    expect(traceId).toBe(parent.spanContext().traceId);

    const span = exporter.getFinishedSpans().find((s) => s.name === 'rank.remote')!;
    expect(span).toBeDefined();
    expect(span.spanContext().spanId).toBe(parentId);
    expect(span.attributes).toMatchObject({ 'rank.model': 'blend', 'rank.rows': 5, 'http.response.status_code': 200 });
  });

  test('a hung server rejects after timeoutMs, not later', async () => {
    server.setMode('hang');
    const r = await ranker({ timeoutMs: 150 });
    const started = Date.now();
    await expect(r.score(batch(4))).rejects.toThrow(/model "blend" at .* did not answer within 150 ms/);
    expect(Date.now() - started).toBeLessThan(150 + 1000);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'rank.remote')!;
    expect(span.status.code).toBe(2); // SpanStatusCode.ERROR
  });

  test('a slow answer inside the budget is accepted', async () => {
    server.setMode('slow', 20);
    const b = batch(4);
    expect(Array.from(await (await ranker({ timeoutMs: 2000 })).score(b))).toEqual(blend(rowsOf(b)));
  });

  test('the caller\'s signal aborts the call promptly', async () => {
    server.setMode('hang');
    const r = await ranker({ timeoutMs: 10_000 });
    const ctrl = new AbortController();
    const started = Date.now();
    setTimeout(() => ctrl.abort(), 50);
    await expect(r.score(batch(4), { signal: ctrl.signal })).rejects.toThrow(/aborted by the caller while waiting for model "blend"/);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(r.score(batch(4), { signal: ctrl.signal })).rejects.toThrow(/aborted by the caller before calling/);
  });

  test('an HTTP 500 rejects with the status and the server\'s error', async () => {
    server.setMode('error');
    await expect((await ranker()).score(batch(4))).rejects.toThrow(
      /ranker "remote-blend" \(remote\): model "blend" at .* answered HTTP 500: injected failure/,
    );
  });

  test('an answer with the wrong number of scores rejects clearly', async () => {
    server.setMode('garbage');
    await expect((await ranker()).score(batch(4))).rejects.toThrow(/output "output__0" of model "blend" .* has shape \[3,1\] for 4 rows; expected \[4\] or \[4, 1\]/);
  });

  test('an unreachable server rejects with the cause', async () => {
    const gone = await startInferenceServer({ models: {} });
    await gone.close(); // its port is now closed
    const r = await createRemoteRanker(spec({ url: gone.url }), ctx);
    await expect(r.score(batch(2))).rejects.toThrow(/cannot reach model "blend" at http:\/\/127\.0\.0\.1:\d+\/v2\/models\/blend\/infer: fetch failed \(ECONNREFUSED\)/);
  });

  test('a configured output that the server does not return rejects, naming what it did return', async () => {
    await expect((await ranker({ output: 'logits' })).score(batch(2))).rejects.toThrow(/returned no output "logits" \(it returned "output__0"\)/);
    expect((server.requests[0]!.body as { outputs: unknown }).outputs).toEqual([{ name: 'logits' }]);
  });

  test('bad configuration is refused at load: no version, bad url, no features', async () => {
    expect(() => createRemoteRanker(spec({}, ''), ctx)).toThrow(/version is required for a remote model/);
    expect(() => createRemoteRanker(spec({ url: 'not a url' }), ctx)).toThrow(/url:/);
    expect(() => createRemoteRanker(spec({ url: 'ftp://host' }), ctx)).toThrow(/url must be http:\/\/ or https:\/\//);
    expect(() => createRemoteRanker(spec({ features: [] }), ctx)).toThrow(/features: features must name at least one feature/);
  });

  test('an empty batch makes no call', async () => {
    expect(await (await ranker()).score({ features: FEATURES, rows: 0, values: new Float64Array(0) })).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });
});
