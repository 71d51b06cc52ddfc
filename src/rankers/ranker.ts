/**
 * A batch of feature rows for one ranker: `rows` rows of `features.length` values each, row-major in `values`
 * (row r, column c at `values[r * features.length + c]`). Columns are exactly the ranker's declared features, in its
 * order. A missing value is NaN (each feature's registry entry says what missing means).
 */
export interface FeatureBatch {
  readonly features: readonly string[];
  readonly rows: number;
  readonly values: Float64Array;
}

/**
 * A ranker turns feature rows into scores. It knows no GraphQL and no storage: feature rows in, scores out.
 *
 * Contract of `score`: it returns exactly one finite score per row, `batch.rows` long, in the same order as the
 * rows (score i belongs to row i), so a shuffled batch gives the identically shuffled scores. Higher ranks first.
 * It must not modify the batch. It may be async (a remote model) and may throw; the pipeline handles both.
 */
export interface Ranker {
  /** The id clients pass as the `ranker` argument. */
  readonly id: string;
  /** Changes whenever the same input could score differently; part of every snapshot key. */
  readonly version: string;
  readonly description: string;
  /** The features this ranker reads, in the column order of the batches it receives. */
  readonly features: readonly string[];
  score(batch: FeatureBatch): Float64Array | Promise<Float64Array>;
}

/** One entry of the ranker configuration file (models/rankers.json). */
export interface RankerSpec {
  readonly id: string;
  readonly kind: string;
  readonly version: string;
  readonly description: string;
  /** Kind-specific parameters (weights, model paths...). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** Builds a ranker of one kind from its configuration entry. Throws with a clear message on bad parameters. */
export type RankerFactory = (spec: RankerSpec) => Ranker;

/** A single-column ranker: the score is the value of one feature (missing values sort last). */
export function featureRanker(spec: RankerSpec, feature: string): Ranker {
  return {
    id: spec.id,
    version: spec.version,
    description: spec.description,
    features: [feature],
    score(batch) {
      const out = new Float64Array(batch.rows);
      for (let r = 0; r < batch.rows; r++) {
        const v = batch.values[r]!;
        out[r] = Number.isFinite(v) ? v : -Number.MAX_VALUE;
      }
      return out;
    },
  };
}
