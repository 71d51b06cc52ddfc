import { z } from 'zod';
import type { Explanation, FeatureBatch, RankerFactory } from './ranker';
import { loadXgboostModel, type XgbModel } from './xgboost/model';
import { DEFAULT_SCORING_WORKERS, scoringPool } from './xgboost/pool';
import { packedModel, predictMargins } from './xgboost/predict';
import { treeShap } from './xgboost/treeshap';

const Params = z.object({
  /** Path of an XGBoost JSON model (`save_model('m.json')`), relative to the ranker configuration file. */
  model: z.string().min(1, 'model must name an XGBoost JSON model file'),
  /**
   * The gateway feature names of the model's columns, in column order. Required when the model was trained without
   * feature_names (its columns are then by position); when the model has feature_names, optional and must equal them.
   */
  features: z.array(z.string().min(1)).optional(),
  /**
   * Worker threads that score batches of at least MIN_WORKER_ROWS rows off the event loop (shared by every xgboost
   * variant of the process). 0 scores on the event loop. Default: 1 when the machine has two or more cores, else 0.
   */
  workers: z.number().int().min(0).max(16).optional(),
});

/** Smaller batches are scored in the calling thread: the hand-off to a worker would cost more than it saves. */
export const MIN_WORKER_ROWS = 256;

/** The features a model reads, in its column order: its own feature_names, else the configured list. */
export function rankerFeatures(model: XgbModel, configured: readonly string[] | undefined, id: string): string[] {
  const where = `ranker "${id}" (${model.file})`;
  if (model.featureNames) {
    if (configured && (configured.length !== model.featureNames.length || configured.some((f, i) => f !== model.featureNames![i]))) {
      throw new Error(
        `${where}: params.features [${configured.join(', ')}] differ from the model's feature_names [${model.featureNames.join(', ')}]; ` +
          'omit params.features or list the same names in the same order',
      );
    }
    return [...model.featureNames];
  }
  if (!configured) {
    throw new Error(`${where}: the model has no feature_names, so params.features must list its ${model.numFeature} columns in order`);
  }
  if (configured.length !== model.numFeature) {
    throw new Error(`${where}: params.features lists ${configured.length} features but the model has ${model.numFeature} columns (num_feature)`);
  }
  if (new Set(configured).size !== configured.length) throw new Error(`${where}: params.features lists a feature twice`);
  return [...configured];
}

/**
 * A gradient-boosted tree model trained with XGBoost (regression, binary:logistic or LambdaMART ranking).
 *
 * `score` returns the model's margins (raw scores), for every objective. The ranking is what matters, and for
 * logistic models the sigmoid is monotone, so margins order rows exactly as probabilities do, without the float32
 * sigmoid's saturation (every margin above ~17 becomes probability 1.0f, a tie). Margins are also what `explain`
 * decomposes: a row's contributions (TreeSHAP) sum to its score. Ranking objectives have no transform anyway.
 *
 * Scores are float32 values, bit for bit what xgboost's predictor returns for the same rows (missing = NaN).
 *
 * Cost: O(trees x depth) per row, walked as xgboost/predict.ts explains; `npm run bench` (bench/scorer.ts) compares
 * it with xgboost's own single-threaded predictor. Batches of MIN_WORKER_ROWS rows or more are scored in a worker
 * thread (`params.workers`, xgboost/pool.ts), so the event loop serves other requests meanwhile; smaller ones
 * synchronously. Either way the same kernel computes the same margins. `signal` is not consulted. `explain` is
 * costlier (exact TreeSHAP is O(trees x leaves x depth^2) per row); it is meant for debugging and MLE tools, not for
 * every request.
 */
export const createXgboostRanker: RankerFactory = async (spec, ctx) => {
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) throw new Error(`ranker "${spec.id}": ${parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ')}`);
  let model: XgbModel;
  try {
    model = await loadXgboostModel(ctx.resolvePath(parsed.data.model));
  } catch (err) {
    throw new Error(`ranker "${spec.id}": ${(err as Error).message}`);
  }
  const features = rankerFeatures(model, parsed.data.features, spec.id);
  const pool = scoringPool(parsed.data.workers ?? DEFAULT_SCORING_WORKERS);
  const packed = packedModel(model);
  const width = features.length;
  const check = (batch: FeatureBatch): void => {
    if (batch.features.length !== width || batch.values.length !== batch.rows * width || batch.features.some((f, i) => f !== features[i])) {
      throw new Error(`ranker "${spec.id}": expected a batch of ${width} features (${features.join(', ')}), got ${batch.features.length} columns and ${batch.values.length} values for ${batch.rows} rows`);
    }
  };
  return {
    id: spec.id,
    version: spec.version ? spec.version : model.modelVersion,
    description: spec.description,
    features,
    score(batch) {
      check(batch);
      if (pool?.available && batch.rows >= MIN_WORKER_ROWS) {
        // Should the worker fail, the same kernel scores here instead.
        return pool.score(packed, batch.values, batch.rows).catch(() => predictMargins(model, batch.values, batch.rows));
      }
      return predictMargins(model, batch.values, batch.rows);
    },
    explain(batch): Explanation {
      check(batch);
      return { features, rows: batch.rows, contributions: treeShap(model, batch.values, batch.rows) };
    },
    close() {
      pool?.release(packed);
    },
  };
};
