import { createContextKey, SpanStatusCode, type AttributeValue, type Attributes, type Context } from '@opentelemetry/api';
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
    const [s, ns] = span.duration;
    recordStage(t.metrics, span.name, s + ns / 1e9, span.attributes, span.status.code === SpanStatusCode.ERROR, t.source);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * What a finished stage adds to the metrics: its duration, a cache read's hit or miss (`cache.hit`), a candidate
 * source's failure (`source`: the source's name when the stage is one, with the outcome src/pipeline/gather.ts marks:
 * ok, timeout or error).
 */
function recordStage(metrics: StageMetrics, name: string, seconds: number, attributes: Attributes, failed: boolean, source: string | null): void {
  metrics.stages.observe({ stage: metrics.stageLabels.value(name) }, seconds);
  const cache = CACHE_READS[name];
  const hit = attributes['cache.hit'];
  if (cache && typeof hit === 'boolean') metrics.cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
  if (source !== null && failed) {
    const reason = attributes['candidates.outcome'] === 'timeout' ? 'timeout' : 'error';
    metrics.sourceFailures.inc({ source: metrics.stageLabels.value(source), reason });
  }
}

/**
 * A stage timed without a span, for when spans are not exported (`spansExported()`): the same metrics as the
 * processor records from a stage span, for less work (no span, no context of its own; a cold home request has a
 * dozen stages, each of which would otherwise make a span and enter its context on the main thread). It offers the
 * part of the `Span` interface the stages use: attributes and status. A candidate source is a `candidates.*` stage that
 * marks its outcome (only the sources of src/pipeline/gather.ts do; a source's own calls are deeper `candidates.*`).
 */
export class StageTimer {
  private readonly started = performance.now();
  private readonly metrics: StageMetrics | undefined;
  private readonly attributes: Attributes = {};
  private failed = false;

  constructor(
    private readonly name: string,
    parent: Context,
  ) {
    this.metrics = STAGE.test(name) ? (parent.getValue(STAGE_METRICS) as StageMetrics | undefined) : undefined;
  }

  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }

  setStatus(status: { code: SpanStatusCode }): this {
    if (status.code === SpanStatusCode.ERROR) this.failed = true;
    return this;
  }

  recordException(): void {}

  end(): void {
    if (!this.metrics) return;
    const source = this.name.startsWith('candidates.') && this.attributes['candidates.outcome'] !== undefined ? this.name.slice('candidates.'.length) : null;
    recordStage(this.metrics, this.name, (performance.now() - this.started) / 1000, this.attributes, this.failed, source);
  }
}
