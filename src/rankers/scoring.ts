import { buildFeatureBatch, withFeatureBatch, type FeatureBatch } from '../features/batch';
import type { FeatureInput } from '../features/registry';
import { withSpan } from '../telemetry/tracing';
import type { Explanation, Ranker } from './ranker';

/**
 * Scores candidates with one ranker: builds exactly the columns it declares and checks the batch contract (one score
 * per row, in row order). Non-finite scores are ranked last (a NaN would make the sort inconsistent and is not a
 * GraphQL Float).
 */
export function scoreCandidates(ranker: Ranker, inputs: readonly FeatureInput[], signal?: AbortSignal): Promise<Float64Array> {
  return withSpan('rank.score', { 'ranker.id': ranker.id, 'ranker.version': ranker.version, 'batch.rows': inputs.length }, async () => {
    // The batch lives only while the ranker scores it: its buffer is reused by the next request.
    return withFeatureBatch(ranker.features, inputs, async (batch: FeatureBatch) => {
      const raw = await ranker.score(batch, { signal });
      if (raw.length !== batch.rows) throw new Error(`ranker "${ranker.id}" returned ${raw.length} scores for ${batch.rows} rows`);
      // A loop: `Float64Array.from` with a mapping function goes through the iterator protocol, an object per row.
      const scores = new Float64Array(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i]!;
        scores[i] = Number.isFinite(v) ? v : -Number.MAX_VALUE;
      }
      return scores;
    });
  });
}

/** Explains candidates with one ranker (its declared features' values and contributions), or null if it cannot. */
export async function explainCandidates(ranker: Ranker, inputs: readonly FeatureInput[]): Promise<{ batch: FeatureBatch; explanation: Explanation | null }> {
  const batch = buildFeatureBatch(ranker.features, inputs);
  const explanation = ranker.explain ? await ranker.explain(batch) : null;
  return { batch, explanation };
}

/** Candidate indices in rank order: score descending, ties by post id so every backend ranks identically. */
export function rankOrder(inputs: readonly FeatureInput[], scores: Float64Array): number[] {
  const order = inputs.map((_, i) => i);
  // The comparator returns -1, 0 or 1 (small integers): returning the score difference, a double, made V8 box a
  // number per comparison.
  order.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa !== sb) return sb > sa ? 1 : -1;
    const ia = inputs[a]!.post.id;
    const ib = inputs[b]!.post.id;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  });
  return order;
}
