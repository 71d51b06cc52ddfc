import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, in one registry per gateway (tests run several in one process).
 * Labels are ids (ranker, experiment, source), never user ids.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
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
