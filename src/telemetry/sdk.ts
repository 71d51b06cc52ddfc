import { readFileSync } from 'node:fs';
import path from 'node:path';
import { diag, DiagLogLevel, trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { repoRoot, type Config } from '../config';
import type { Logger } from './logger';
import { StageMetricsProcessor } from './stage-metrics';
import { setSpansExported } from './tracing';

export interface Telemetry {
  /** Where spans go, or null when they are only recorded for metrics. */
  readonly exportUrl: string | null;
  /** Exports the spans still buffered and stops the provider; never takes longer than `timeoutMs`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TelemetryOptions {
  /** More span processors (tests: an in-memory exporter), after the stage metrics and the OTLP exporter. */
  readonly spanProcessors?: readonly SpanProcessor[];
}

/** How long `shutdown` waits for the last export by default: an unreachable collector must not hold the exit. */
const SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * Starts OpenTelemetry tracing for the process; call it once, before anything serves. It registers a NodeTracerProvider
 * globally (AsyncLocalStorage context, W3C `traceparent` and baggage propagation), so the spans of src/telemetry/tracing.ts
 * become real and outgoing calls to remote rankers and sources carry the request's trace.
 *
 * Spans are exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, and
 * nowhere otherwise. Either way every stage span feeds the Prometheus stage metrics (`StageMetricsProcessor`).
 * The exporter itself also reads the standard `OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT` and `..._COMPRESSION`.
 */
export function startTelemetry(config: Config, logger: Logger, opts: TelemetryOptions = {}): Telemetry {
  // The SDK reports export failures through `diag`; without a logger they would vanish.
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ otel: args.map(String) }, `opentelemetry: ${message}`),
      warn: (message, ...args) => logger.warn({ otel: args.map(String) }, `opentelemetry: ${message}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );

  const processors: SpanProcessor[] = [new StageMetricsProcessor()];
  if (config.otlpTracesUrl) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpTracesUrl })));
  processors.push(...(opts.spanProcessors ?? []));
  setSpansExported(processors.length > 1);

  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: config.serviceName,
        [ATTR_SERVICE_VERSION]: packageVersion(),
        'deployment.environment.name': config.env,
      }),
    ),
    sampler: new RecordEverySpan(samplerFor(config.tracesSampler)),
    spanProcessors: processors,
  });
  provider.register();
  if (!isGlobalProvider(provider)) {
    logger.warn('a tracer provider was already registered in this process: the gateway\'s spans and stage metrics go to that one');
  }
  logger.info(
    { exportUrl: config.otlpTracesUrl, serviceName: config.serviceName, sampler: config.tracesSampler.kind },
    config.otlpTracesUrl ? `tracing: exporting spans over OTLP/HTTP to ${config.otlpTracesUrl}` : 'tracing: spans feed the stage metrics; none exported (OTEL_EXPORTER_OTLP_ENDPOINT is not set)',
  );

  let stopped: Promise<void> | null = null;
  return {
    exportUrl: config.otlpTracesUrl,
    shutdown(timeoutMs = SHUTDOWN_TIMEOUT_MS) {
      stopped ??= provider.shutdown().catch((err: unknown) => logger.warn({ err: (err as Error)?.message }, 'opentelemetry: flushing spans failed'));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ timeoutMs }, 'opentelemetry: spans not flushed in time; exiting without them');
          resolve();
        }, timeoutMs);
      });
      return Promise.race([stopped, late]).finally(() => clearTimeout(timer));
    },
  };
}

function samplerFor({ kind, ratio }: Config['tracesSampler']): Sampler {
  switch (kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * Keeps the configured sampler's say over what is exported (and over the `sampled` flag propagated downstream), but
 * records the spans it drops instead of discarding them: span processors still see them, so the stage metrics count
 * every request, including those a client sent with an unsampled `traceparent`. Exporters skip unsampled spans.
 */
class RecordEverySpan implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const result = this.inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    return result.decision === SamplingDecision.NOT_RECORD ? { ...result, decision: SamplingDecision.RECORD } : result;
  }

  toString(): string {
    return `RecordEverySpan{${this.inner.toString()}}`;
  }
}

function isGlobalProvider(provider: NodeTracerProvider): boolean {
  const global = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return (global.getDelegate?.() ?? global) === provider;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
