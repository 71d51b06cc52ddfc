import { createContextKey, SpanStatusCode, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Metrics } from './metrics';

/**
 * Where the stage spans of a request are counted: the gateway that received it. It rides in the OpenTelemetry context
 * (set by the HTTP layer, `withStageMetrics`), so each span knows its gateway even when several gateways share a
 * process (tests) and one tracer provider.
 */
const STAGE_METRICS = createContextKey('ranking-gateway.stage-metrics');

export type StageMetrics = Pick<Metrics, 'stages' | 'stageLabels' | 'cacheLookups' | 'sourceFailures'>;

/** `ctx` with spans started under it counted in `metrics`. */
export function withStageMetrics(ctx: Context, metrics: StageMetrics): Context {
  return ctx.setValue(STAGE_METRICS, metrics);
}

/** Span names that are stages of the request path (src/feed, src/pipeline, src/candidates, src/features, src/rankers, src/cache). */
const STAGE = /^(?:feed|pipeline|candidates|features|rank|cache)\.[A-Za-z0-9_.-]{1,64}$/;
/** The caches, by the span that reads them; the span sets `cache.hit`. */
const CACHE_READS: Readonly<Record<string, string>> = { 'cache.get': 'snapshots', 'cache.scores.get': 'scores' };
/** The parent of every candidate source's span (`candidates.<source>`); deeper `candidates.*` spans are a source's own calls. */
const GATHER = 'pipeline.candidates';

interface Tracked {
  readonly metrics: StageMetrics;
  /** A candidate source's span: a direct child of pipeline.candidates. */
  readonly source: string | null;
}

/**
 * Turns the stage spans into Prometheus metrics when they end: their durations (`ranking_stage_duration_seconds`),
 * cache hits and misses (`cache.hit` of the cache reads), and candidate sources that failed or timed out (the ERROR
 * status withSpan sets). Registered with the tracer provider beside any exporter, so the metrics exist whether or not
 * traces are exported; the sampler records every span for the same reason (see sdk.ts).
 *
 * The stage spans are not edited for this: their names and attributes are the contract.
 */
export class StageMetricsProcessor implements SpanProcessor {
  private readonly tracked = new WeakMap<object, Tracked>();
  /** Span ids of pipeline.candidates spans still open: their children are the sources. */
  private readonly gathers = new Set<string>();

  onStart(span: Span, parentContext: Context): void {
    const metrics = parentContext.getValue(STAGE_METRICS) as StageMetrics | undefined;
    if (!metrics || !STAGE.test(span.name)) return;
    if (span.name === GATHER) this.gathers.add(span.spanContext().spanId);
    const parentId = span.parentSpanContext?.spanId;
    const source = span.name.startsWith('candidates.') && parentId !== undefined && this.gathers.has(parentId) ? span.name.slice('candidates.'.length) : null;
    this.tracked.set(span, { metrics, source });
  }

  onEnd(span: ReadableSpan): void {
    const t = this.tracked.get(span);
    if (!t) return;
    if (span.name === GATHER) this.gathers.delete(span.spanContext().spanId);
    const { metrics } = t;
    const [s, ns] = span.duration;
    metrics.stages.observe({ stage: metrics.stageLabels.value(span.name) }, s + ns / 1e9);
    const cache = CACHE_READS[span.name];
    const hit = span.attributes['cache.hit'];
    if (cache && typeof hit === 'boolean') metrics.cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
    if (t.source !== null && span.status.code === SpanStatusCode.ERROR) {
      // src/pipeline/run.ts marks each source span's outcome: ok, timeout or error.
      const reason = span.attributes['candidates.outcome'] === 'timeout' ? 'timeout' : 'error';
      metrics.sourceFailures.inc({ source: metrics.stageLabels.value(t.source), reason });
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
