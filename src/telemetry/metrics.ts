import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: from a cached page (a replay from memory, the quickest answer) to a request at its deadlines (seconds). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: stages are shorter than requests, down to a cache read from memory, so the buckets start lower. */
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * A label whose values come from outside (an operation name a client chose, a stage name): the first `max` distinct
 * values are kept, any later one reads as "other", so a client cannot grow the registry without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  /** Whether `v` may be used as a label value (it was seen before, or there is still room for it). */
  admit(v: string): boolean {
    if (this.seen.has(v)) return true;
    if (this.seen.size >= this.max) return false;
    this.seen.add(v);
    return true;
  }

  value(v: string): string {
    return this.admit(v) ? v : 'other';
  }
}

/**
 * The gateway's Prometheus metrics, in one registry per gateway (tests run several in one process).
 * Labels are ids (ranker, experiment, source, stage, operation), never user ids. Labels a client can influence
 * (operation names, root fields) go through a `BoundedLabel`.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests from arrival to the last byte of the response, per route (a fixed set), method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: REQUEST_BUCKETS,
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered.',
      registers: [registry],
    }),
    operations: new Histogram({
      name: 'graphql_operation_duration_seconds',
      help:
        'GraphQL requests from arrival to the last byte of the response, per operation name ("anonymous" when unnamed), ' +
        'type and root fields (sorted, comma-separated; "-" when the document did not validate).',
      labelNames: ['operation', 'type', 'root_fields'] as const,
      buckets: REQUEST_BUCKETS,
      registers: [registry],
    }),
    operationErrors: new Counter({
      name: 'graphql_errors_total',
      help: 'Errors in GraphQL responses, per operation and extensions.code (the closed set of src/errors.ts, plus GraphQL\'s own).',
      labelNames: ['operation', 'code'] as const,
      registers: [registry],
    }),
    /** Operation and root-field label values, shared by the two metrics above. */
    operationLabels: new BoundedLabel(200),
    stages: new Histogram({
      name: 'ranking_stage_duration_seconds',
      help: 'Duration of each stage of the request path (the spans feed.*, pipeline.*, candidates.*, features.*, rank.*, cache.*), whether or not traces are exported.',
      labelNames: ['stage'] as const,
      buckets: STAGE_BUCKETS,
      registers: [registry],
    }),
    stageLabels: new BoundedLabel(100),
    cacheLookups: new Counter({
      name: 'ranking_cache_lookups_total',
      help: 'Cache reads: cache="snapshots" (a session\'s page list), "scores" (a ranker\'s scored list) or "responses" (a replayed response), result="hit" or "miss". Hit ratio: hit / (hit + miss).',
      labelNames: ['cache', 'result'] as const,
      registers: [registry],
    }),
    sourceFailures: new Counter({
      name: 'ranking_source_failures_total',
      help: 'Candidate source calls that failed (reason="error") or missed their deadline (reason="timeout"); the feed is served without them unless the source is fail-closed.',
      labelNames: ['source', 'reason'] as const,
      registers: [registry],
    }),
    rankings: new Counter({
      name: 'ranking_builds_total',
      help: 'Candidate retrievals and rankings run (cache misses), per feed; identical concurrent requests share one.',
      labelNames: ['feed'] as const,
      registers: [registry],
    }),
    rankerFallbacks: new Counter({
      name: 'ranking_ranker_fallbacks_total',
      help: 'Rankings served by a fallback because the requested variant failed or missed its deadline.',
      labelNames: ['variant', 'fallback', 'reason'] as const,
      registers: [registry],
    }),
    experimentExposures: new Counter({
      name: 'ranking_experiment_exposures_total',
      help: 'Feed pages served under an experiment, per arm.',
      labelNames: ['experiment', 'arm', 'ranker'] as const,
      registers: [registry],
    }),
    shadowTopKOverlap: new Histogram({
      name: 'ranking_shadow_topk_overlap',
      help: 'Overlap@k (share of the served top k also in the shadow top k) between a served ranking and its shadow.',
      labelNames: ['variant', 'shadow'] as const,
      buckets: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers: [registry],
    }),
    shadowKendallTau: new Histogram({
      name: 'ranking_shadow_kendall_tau',
      help: "Kendall's tau-b between the served and the shadow scores over the same candidates.",
      labelNames: ['variant', 'shadow'] as const,
      buckets: [-1, -0.5, 0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1],
      registers: [registry],
    }),
    shadowFailures: new Counter({
      name: 'ranking_shadow_failures_total',
      help: 'Shadow scorings that failed or timed out (they never affect the answer).',
      labelNames: ['variant', 'shadow'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
