import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/**
 * One tracer for the whole gateway. Through @opentelemetry/api it is a no-op until an SDK registers a provider, so
 * spans cost next to nothing when tracing is off.
 */
export const tracer = trace.getTracer('ranking-gateway');

/**
 * Runs `fn` inside an active span named `name` (children started inside nest under it), records an exception and an
 * ERROR status if it throws, and always ends the span. Attributes carry ids and counts, never tokens or feature values.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T> | T): Promise<T> {
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
