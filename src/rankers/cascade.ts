import { z } from 'zod';
import type { FeatureBatch, Ranker, RankerFactory } from './ranker';

/** The heavy stage never scores more than this many rows, whatever the configuration says. */
export const MAX_CASCADE_TOP_K = 1000;

const Params = z.object({
  /** A variant listed earlier in the file: cheap, scores every candidate. */
  light: z.string(),
  /** A variant listed earlier in the file: expensive, scores only the light stage's top K. */
  heavy: z.string(),
  topK: z.number().int().min(1).max(MAX_CASCADE_TOP_K),
});

/** Copies the columns `want` (in that order) out of a batch whose columns are `have`. */
function project(batch: FeatureBatch, want: readonly string[], rows?: readonly number[]): FeatureBatch {
  const have = batch.features;
  const cols = want.map((f) => have.indexOf(f));
  const picked = rows ?? Array.from({ length: batch.rows }, (_, i) => i);
  const values = new Float64Array(picked.length * want.length);
  picked.forEach((src, dst) => {
    for (let c = 0; c < cols.length; c++) values[dst * want.length + c] = batch.values[src * have.length + cols[c]!]!;
  });
  return { features: want, rows: picked.length, values };
}

/**
 * Two-stage ranking: the light ranker scores every candidate, the heavy ranker re-scores the light stage's top K.
 * The top K come first, ordered by the heavy score (their score is the heavy score); the rest follow in the light
 * order, with scores placed below the lowest heavy score so the list stays non-increasing.
 */
export const createCascadeRanker: RankerFactory = (spec, ctx) => {
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) throw new Error(`ranker "${spec.id}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { topK } = parsed.data;
  const stage = (id: string): Ranker => {
    const r = ctx.ranker(id);
    if (!r) throw new Error(`ranker "${spec.id}": stage "${id}" is not a loaded variant listed before it`);
    return r;
  };
  const light = stage(parsed.data.light);
  const heavy = stage(parsed.data.heavy);
  const features = [...new Set([...light.features, ...heavy.features])];
  return {
    id: spec.id,
    version: spec.version || `${light.id}@${light.version}>${heavy.id}@${heavy.version}:${topK}`,
    description: spec.description,
    features,
    async score(batch, opts) {
      const lightScores = await light.score(project(batch, light.features), opts);
      const order = Array.from({ length: batch.rows }, (_, i) => i).sort((a, b) => lightScores[b]! - lightScores[a]! || a - b);
      const top = order.slice(0, topK);
      const heavyScores = await heavy.score(project(batch, heavy.features, top), opts);
      const out = new Float64Array(batch.rows);
      let floor = Infinity;
      top.forEach((row, i) => {
        out[row] = heavyScores[i]!;
        floor = Math.min(floor, heavyScores[i]!);
      });
      // Below every heavy score, one unit per light rank: keeps the light order for the tail.
      const base = Number.isFinite(floor) ? floor - 1 : 0;
      order.slice(topK).forEach((row, i) => (out[row] = base - i));
      return out;
    },
  };
};
