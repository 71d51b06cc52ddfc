import { withDeadline } from '../deadline';
import { kendallTau, overlapAtK } from '../rankers/agreement';
import { rankOrder, scoreCandidates } from '../rankers/scoring';
import { withSpan } from '../telemetry/tracing';
import type { SideEffect } from './side-effect';

/** Each shadow is abandoned after this long: it never delays an answer, but must not pile up either. */
const SHADOW_TIMEOUT_MS = 10_000;
/** Overlap is measured on the top this many. */
const SHADOW_TOP_K = 25;
/** Kendall's tau is O(n²): shadows are compared on at most this many of the served list's top items. */
const SHADOW_TAU_ITEMS = 500;

/**
 * Scores the served variant's shadows (models/rankers.json `shadows`) on the same candidates, and records how far
 * each agrees with what was served: overlap@25 and Kendall's tau, as metrics labelled by variant and shadow.
 */
export const shadowScoring: SideEffect = {
  name: 'shadow-scoring',
  on: 'scored',
  // Shadows are scored one after another, each under its own deadline.
  timeoutMs: 60_000,
  async run({ ranker: served, inputs, scores: servedScores }, { rankers, metrics, logger }) {
    for (const shadowId of rankers.variant(served.id)?.config.shadows ?? []) {
      const shadow = rankers.get(shadowId);
      if (!shadow) continue;
      const labels = { variant: served.id, shadow: shadowId };
      try {
        const shadowScores = await withSpan('rank.shadow', { 'ranker.id': served.id, 'shadow.id': shadowId, 'batch.rows': inputs.length }, () =>
          withDeadline((signal) => scoreCandidates(shadow, inputs, signal), SHADOW_TIMEOUT_MS),
        );
        const servedOrder = rankOrder(inputs, servedScores);
        const shadowOrder = rankOrder(inputs, shadowScores);
        metrics.shadowTopKOverlap.observe(labels, overlapAtK(servedOrder, shadowOrder, SHADOW_TOP_K));
        const top = servedOrder.slice(0, SHADOW_TAU_ITEMS);
        metrics.shadowKendallTau.observe(labels, kendallTau(top.map((i) => servedScores[i]!), top.map((i) => shadowScores[i]!)));
      } catch (err) {
        metrics.shadowFailures.inc(labels);
        logger.warn({ ...labels, err: (err as Error)?.message }, 'shadow scoring failed');
      }
    }
  },
};
