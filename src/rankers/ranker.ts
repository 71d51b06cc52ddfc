import type { FeatureBatch } from '../features/batch';

export type { FeatureBatch };

/** What a scoring call may use besides the rows. Local rankers ignore it. */
export interface ScoreOptions {
  /** Aborted when the request's deadline for this ranker passes; a remote ranker stops waiting then. */
  readonly signal?: AbortSignal;
}

/**
 * Per-row explanation: the features the ranker saw and how much each moved the score.
 * `contributions` is rows x (features + 1), row-major; the last column of each row is the bias (the part of the score
 * no feature explains). For an additive explanation, a row's contributions sum to its margin score.
 */
export interface Explanation {
  readonly features: readonly string[];
  readonly rows: number;
  readonly contributions: Float64Array;
}

/**
 * A ranker turns feature rows into scores. It knows no GraphQL and no storage: feature rows in, scores out.
 *
 * Contract of `score`: it returns exactly one finite score per row, `batch.rows` long, in the same order as the
 * rows (score i belongs to row i), so a shuffled batch gives the identically shuffled scores. Higher ranks first.
 * It must not modify the batch. It may be async (a remote model) and may throw or reject; the pipeline then serves
 * the variant's fallback (when it has one) and says so.
 *
 * `explain`, when present, follows the same batch contract (row i explains row i).
 */
export interface Ranker {
  /** The id clients pass as the `ranker` argument. */
  readonly id: string;
  /** Changes whenever the same input could score differently; part of every snapshot key. */
  readonly version: string;
  readonly description: string;
  /** The features this ranker reads, in the column order of the batches it receives. */
  readonly features: readonly string[];
  score(batch: FeatureBatch, opts?: ScoreOptions): Float64Array | Promise<Float64Array>;
  explain?(batch: FeatureBatch): Explanation | Promise<Explanation>;
  /** Releases what the ranker holds (a native session, sockets) once it is replaced or the gateway stops. */
  close?(): void | Promise<void>;
}

/** One entry of the ranker configuration file (models/rankers.json). */
export interface RankerSpec {
  readonly id: string;
  readonly kind: string;
  /** Optional in the file: kinds that load a model derive it from the model file's content when absent. */
  readonly version: string;
  readonly description: string;
  /** Kind-specific parameters (weights, model paths...). */
  readonly params: Readonly<Record<string, unknown>>;
}

/** What a factory may use beyond its own spec. */
export interface RankerFactoryContext {
  /** Resolves a path from the configuration file (model files sit beside it). */
  resolvePath(relative: string): string;
  /** Another ranker of the same configuration, by id (for kinds built from others, such as `cascade`). */
  ranker(id: string): Ranker | undefined;
}

/**
 * Builds a ranker of one kind from its configuration entry. Throws with a clear message on bad parameters or an
 * unreadable or invalid model; the registry then keeps serving the previous version of that variant.
 */
export type RankerFactory = (spec: RankerSpec, ctx: RankerFactoryContext) => Ranker | Promise<Ranker>;

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
