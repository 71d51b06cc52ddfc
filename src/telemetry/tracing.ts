import { context, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { StageTimer } from './stage-metrics';

/**
 * One tracer for the whole gateway. Through @opentelemetry/api it is a no-op until an SDK registers a provider, so
 * spans cost next to nothing when tracing is off.
 */
export const tracer = trace.getTracer('ranking-gateway');

let exported = true;
/**
 * Whether finished spans go anywhere beyond the stage metrics: an exporter, or a test's processor. `startTelemetry`
 * says; until it does (a test registering its own provider), assume they do. Spans nobody reads can be skipped where
 * nothing else depends on them (a replayed response's server span).
 */
export function spansExported(): boolean {
  return exported;
}

export function setSpansExported(value: boolean): void {
  exported = value;
}

/**
 * Runs `fn` inside an active span named `name` (children started inside nest under it), records an exception and an
 * ERROR status if it throws, and always ends the span. Attributes carry ids and counts, never tokens or feature values.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T> | T): Promise<T> {
  if (!exported) return withStage(name, attributes, fn);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `withSpan` when spans are not exported: the stage is timed for the stage metrics, without a span. */
async function withStage<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T> | T): Promise<T> {
  const stage = new StageTimer(name, context.active()).setAttributes(attributes);
  try {
    return await fn(stage as unknown as Span);
  } catch (err) {
    stage.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    stage.end();
  }
}
