import { z } from 'zod';
import type { FeatureBatch, RankerFactory } from './ranker';

const Params = z.object({
  /** Weight per feature name; the margin is bias + Σ weight·value. Feature order is the order written here. */
  weights: z.record(z.string(), z.number().finite()).refine((w) => Object.keys(w).length > 0, 'weights must name at least one feature'),
  bias: z.number().finite().default(0),
  /** "logistic" turns the margin into a probability with the sigmoid; the ranking is the same, the scale is not. */
  link: z.enum(['identity', 'logistic']).default('identity'),
  /**
   * Value used for a missing feature (NaN), per feature; default 0, so a missing value contributes nothing: for the
   * personalized blend, "no viewer" means "no affinity boost", not "no score".
   */
  missing: z.record(z.string(), z.number().finite()).default({}),
});

/**
 * A linear model: weights per feature, a bias and an optional logistic link. Its explanation is exact: each
 * feature contributes weight·value (after imputing missing values), the bias is the rest, and they sum to the margin.
 */
export const createLinearRanker: RankerFactory = (spec) => {
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) throw new Error(`ranker "${spec.id}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { weights: w, bias, link, missing } = parsed.data;
  const features = Object.keys(w);
  for (const f of Object.keys(missing)) if (!(f in w)) throw new Error(`ranker "${spec.id}": missing value given for "${f}", which has no weight`);
  const weights = Float64Array.from(features, (f) => w[f]!);
  const fill = Float64Array.from(features, (f) => missing[f] ?? 0);
  const width = features.length;
  const value = (batch: FeatureBatch, r: number, c: number) => {
    const v = batch.values[r * width + c]!;
    return Number.isNaN(v) ? fill[c]! : v;
  };
  const margin = (batch: FeatureBatch, r: number) => {
    let s = bias;
    for (let c = 0; c < width; c++) s += weights[c]! * value(batch, r, c);
    return s;
  };
  return {
    id: spec.id,
    version: spec.version || '1',
    description: spec.description,
    features,
    score(batch) {
      const out = new Float64Array(batch.rows);
      for (let r = 0; r < batch.rows; r++) {
        const m = margin(batch, r);
        out[r] = link === 'logistic' ? 1 / (1 + Math.exp(-m)) : m;
      }
      return out;
    },
    explain(batch) {
      const contributions = new Float64Array(batch.rows * (width + 1));
      for (let r = 0; r < batch.rows; r++) {
        for (let c = 0; c < width; c++) contributions[r * (width + 1) + c] = weights[c]! * value(batch, r, c);
        contributions[r * (width + 1) + width] = bias;
      }
      return { features, rows: batch.rows, contributions };
    },
  };
};
