/**
 * NDCG@k over query groups, computed the way xgboost 1.7's `ndcg@k` eval metric computes it (src/metric/rank_metric.cc,
 * `EvalNDCG`), so our number can be compared with the one printed during training:
 *  - each group's rows are ordered by prediction, descending, with a stable sort: rows with equal predictions keep
 *    their file order (this decides which of two tied documents counts at position i);
 *  - labels are truncated to integers; gain is 2^rel - 1, discount 1 / log2(position + 2) (position 0-based), over
 *    the first k positions;
 *  - ideal DCG uses the labels sorted descending; a group whose ideal DCG is 0 (no relevant document) scores 1, or
 *    0 with the `ndcg@k-` variant (`minus`);
 *  - the result is the plain mean over groups, in float64.
 */

export interface NdcgOptions {
  /** Cut-off; all positions when absent (xgboost's plain `ndcg`). */
  readonly k?: number;
  /** `ndcg@k-`: groups without relevant documents score 0 instead of 1. */
  readonly minus?: boolean;
}

/** DCG of the first k entries of `rel`, in the given order. */
function dcg(rel: readonly number[], k: number): number {
  let sum = 0;
  for (let i = 0; i < rel.length && i < k; i++) {
    const r = rel[i]!;
    if (r !== 0) sum += (2 ** r - 1) / Math.log2(i + 2);
  }
  return sum;
}

/** NDCG of one group (scores and labels of its rows, in row order). */
export function groupNdcg(scores: ArrayLike<number>, labels: ArrayLike<number>, opts: NdcgOptions = {}): number {
  const k = opts.k ?? Infinity;
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  // Array.prototype.sort is stable (ES2019), matching xgboost's std::stable_sort on ties.
  order.sort((a, b) => scores[b]! - scores[a]!);
  // xgboost stores labels as int then unsigned: truncation toward zero.
  const rel = order.map((i) => Math.trunc(labels[i]!));
  const ideal = rel.slice().sort((a, b) => b - a);
  const idcg = dcg(ideal, k);
  if (idcg === 0) return opts.minus ? 0 : 1;
  return dcg(rel, k) / idcg;
}

/**
 * Mean NDCG over consecutive groups. `groups` are group sizes in row order and must cover every row; without
 * groups the whole input is one group (as in xgboost).
 */
export function ndcg(scores: ArrayLike<number>, labels: ArrayLike<number>, groups: readonly number[] | null, opts: NdcgOptions = {}): number {
  if (scores.length !== labels.length) throw new RangeError(`ndcg: ${scores.length} scores for ${labels.length} labels`);
  const sizes = groups ?? [scores.length];
  const total = sizes.reduce((s, g) => s + g, 0);
  if (total !== scores.length) throw new RangeError(`ndcg: the groups cover ${total} rows but there are ${scores.length}`);
  if (sizes.length === 0) throw new RangeError('ndcg: no groups');
  let sum = 0;
  let start = 0;
  for (const size of sizes) {
    const end = start + size;
    sum += groupNdcg(Array.prototype.slice.call(scores, start, end) as number[], Array.prototype.slice.call(labels, start, end) as number[], opts);
    start = end;
  }
  return sum / sizes.length;
}
