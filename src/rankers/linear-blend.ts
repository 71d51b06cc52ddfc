import { z } from 'zod';
import type { RankerFactory } from './ranker';

const Params = z.object({
  /** Weight per feature name; the score is the weighted sum. A missing (NaN) value contributes nothing. */
  weights: z.record(z.string(), z.number().finite()).refine((w) => Object.keys(w).length > 0, 'weights must name at least one feature'),
});

/**
 * A weighted sum of features. The built-in `personalized` ranker is one: hot plus the viewer's affinity for the
 * post's community (and, in a post context, title similarity), so a signed-out request reduces to plain hot.
 * Missing values count as zero: "no viewer" means "no affinity boost", not "no score".
 */
export const createLinearBlendRanker: RankerFactory = (spec) => {
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) throw new Error(`ranker "${spec.id}": ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const features = Object.keys(parsed.data.weights);
  const weights = Float64Array.from(features.map((f) => parsed.data.weights[f]!));
  const width = features.length;
  return {
    id: spec.id,
    version: spec.version,
    description: spec.description,
    features,
    score(batch) {
      const out = new Float64Array(batch.rows);
      for (let r = 0; r < batch.rows; r++) {
        let s = 0;
        for (let c = 0; c < width; c++) {
          const v = batch.values[r * width + c]!;
          if (!Number.isNaN(v)) s += weights[c]! * v;
        }
        out[r] = s;
      }
      return out;
    },
  };
};
