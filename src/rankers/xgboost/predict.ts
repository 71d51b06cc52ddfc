/**
 * Margin prediction that reproduces xgboost's CPU predictor bit for bit (float32 throughout).
 *
 * Float32 rules, each of which changes results when ignored:
 *  - Inputs are rounded to float32 first (xgboost stores every DMatrix / inplace_predict value as a float). A float64
 *    value just below a float32 threshold can round up onto it and must then go right, as it does in xgboost.
 *  - The split test is `x < threshold` on two float32 values; a NaN (missing) input follows `default_left`.
 *  - The margin starts at the base margin and adds each tree's leaf in float32, in tree order. Storing every partial
 *    sum into a Float32Array rounds it exactly as a float32 `+=` does: the float64 sum of two float32 values, rounded
 *    once to float32, is the correctly rounded float32 sum (double rounding is innocuous when 53 >= 2 * 24 + 2).
 *
 * Speed (1,000 rows x 300 trees of depth 6 over 40 features, 10% missing; native inplace_predict nthread=1 takes
 * ~8.4 ms on the machine this was tuned on):
 *  - Tree by tree over a chunk of rows, not row by row over all trees: the model does not fit in L2, and reloading
 *    each tree's nodes per row cost ~2x (row by row ~18 ms, 64-row blocks ~16 ms, tree by tree ~15 ms).
 *  - Branchless steps: `next = left + 4 * goRight`, with the comparison turned into 0/1 arithmetic instead of a
 *    jump. Random data mispredicts half of all split branches; arithmetic does not (~12 ms).
 *  - Every walk takes exactly the tree's depth in steps: a leaf is encoded as a node that loops onto itself
 *    (column 0, threshold NaN, so it never goes right), so there is no leaf test either.
 *  - Four rows walk the same tree at once. Each walk is a chain of dependent loads (node, value, next node); four
 *    independent chains keep the CPU busy while one waits (~6.3 ms, ~1.3x native; eight rows gained 8% more).
 * The chunk's rows are copied once into a Float32Array: the float32 rounding above, done once per value instead
 * of once per visit; the chunk bounds that copy's memory. Trees much deeper on one side than the other pay for the
 * fixed step count (a row reaching a shallow leaf keeps stepping in place); xgboost's depthwise trees do not.
 */
import type { XgbModel } from './model';

/** Rows walked per tree pass: the float32 copy of a chunk is CHUNK_ROWS x num_feature x 4 bytes. */
const CHUNK_ROWS = 2048;

/**
 * One node per 4 int32 slots, so a visit touches one cache line instead of one per array:
 * [split column, 4 x left child, 1 when a missing value goes right, threshold as float32 bits].
 * The right child is the left child + 1 node (the model guarantees it), i.e. + 4 slots. A leaf is
 * [0, 4 x itself, 0, NaN]: `x >= NaN` is false, so a walk that reaches it stays there.
 */
interface Packed {
  readonly nodes: Int32Array;
  readonly thresholds: Float32Array;
  /** Leaf value by node index (slot / 4). */
  readonly leaves: Float32Array;
  readonly roots: Int32Array;
  readonly depths: Int32Array;
}

const packedCache = new WeakMap<XgbModel, Packed>();

function packed(model: XgbModel): Packed {
  let p = packedCache.get(model);
  if (p) return p;
  const n = model.splitIndex.length;
  const nodes = new Int32Array(n * 4);
  const thresholds = new Float32Array(nodes.buffer);
  const leaves = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const f = model.splitIndex[i]!;
    if (f < 0) {
      nodes[4 * i + 1] = 4 * i;
      thresholds[4 * i + 3] = NaN;
      leaves[i] = model.leafValue[i]!;
    } else {
      nodes[4 * i] = f;
      nodes[4 * i + 1] = 4 * model.left[i]!;
      nodes[4 * i + 2] = model.defaultLeft[i]! ? 0 : 1;
      thresholds[4 * i + 3] = model.threshold[i]!;
    }
  }
  const roots = new Int32Array(model.numTrees);
  for (let t = 0; t < model.numTrees; t++) roots[t] = 4 * model.treeOffset[t]!;
  p = { nodes, thresholds, leaves, roots, depths: model.treeDepth };
  packedCache.set(model, p);
  return p;
}

function checkShape(model: XgbModel, values: Float64Array, rows: number): void {
  if (!Number.isInteger(rows) || rows < 0 || values.length !== rows * model.numFeature) {
    throw new RangeError(`xgboost model ${model.file}: expected ${rows} rows x ${model.numFeature} features = ${rows * model.numFeature} values, got ${values.length}`);
  }
}

/**
 * Margins (raw scores before the objective's transform) of `rows` rows, row-major, `model.numFeature` values each,
 * NaN = missing. Each result is a float32 value held in a float64; row i's margin is at index i.
 */
export function predictMargins(model: XgbModel, values: Float64Array, rows: number): Float64Array {
  checkShape(model, values, rows);
  const out = new Float64Array(rows);
  if (rows === 0) return out;
  const { nodes, thresholds: th, leaves, roots, depths } = packed(model);
  const width = model.numFeature;
  const chunk = Math.min(rows, CHUNK_ROWS);
  const x = new Float32Array(chunk * width);
  const acc = new Float32Array(chunk);
  const trees = roots.length;
  for (let start = 0; start < rows; start += chunk) {
    const count = Math.min(chunk, rows - start);
    // Float32Array.set rounds each float64 to nearest float32, exactly like Math.fround and xgboost's cast.
    x.set(values.subarray(start * width, (start + count) * width));
    acc.fill(model.baseMargin);
    const count4 = count - (count % 4);
    for (let t = 0; t < trees; t++) {
      const root = roots[t]!;
      const depth = depths[t]!;
      // One step: go right (+4 slots) when x >= threshold, or when x is missing and the node sends missing right.
      // `+(bool)` compiles to a 0/1 value, not a branch. NaN fails `>=`, so it goes left unless sent right.
      let r = 0;
      for (; r < count4; r += 4) {
        const o0 = r * width;
        const o1 = o0 + width;
        const o2 = o1 + width;
        const o3 = o2 + width;
        let n0 = root;
        let n1 = root;
        let n2 = root;
        let n3 = root;
        for (let d = 0; d < depth; d++) {
          const v0 = x[o0 + nodes[n0]!]!;
          const v1 = x[o1 + nodes[n1]!]!;
          const v2 = x[o2 + nodes[n2]!]!;
          const v3 = x[o3 + nodes[n3]!]!;
          n0 = nodes[n0 + 1]! + ((+(v0 >= th[n0 + 3]!) | (+(v0 !== v0) & nodes[n0 + 2]!)) << 2);
          n1 = nodes[n1 + 1]! + ((+(v1 >= th[n1 + 3]!) | (+(v1 !== v1) & nodes[n1 + 2]!)) << 2);
          n2 = nodes[n2 + 1]! + ((+(v2 >= th[n2 + 3]!) | (+(v2 !== v2) & nodes[n2 + 2]!)) << 2);
          n3 = nodes[n3 + 1]! + ((+(v3 >= th[n3 + 3]!) | (+(v3 !== v3) & nodes[n3 + 2]!)) << 2);
        }
        // A Float32Array store rounds the float64 sum of two float32s to the float32 sum (see above).
        acc[r] = acc[r]! + leaves[n0 >> 2]!;
        acc[r + 1] = acc[r + 1]! + leaves[n1 >> 2]!;
        acc[r + 2] = acc[r + 2]! + leaves[n2 >> 2]!;
        acc[r + 3] = acc[r + 3]! + leaves[n3 >> 2]!;
      }
      for (; r < count; r++) {
        const o = r * width;
        let n = root;
        for (let d = 0; d < depth; d++) {
          const v = x[o + nodes[n]!]!;
          n = nodes[n + 1]! + ((+(v >= th[n + 3]!) | (+(v !== v) & nodes[n + 2]!)) << 2);
        }
        acc[r] = acc[r]! + leaves[n >> 2]!;
      }
    }
    for (let r = 0; r < count; r++) out[start + r] = acc[r]!;
  }
  return out;
}
/** xgboost's float32 sigmoid, `1.0f / (1.0f + expf(-x))`. */
export function sigmoid32(margin: number): number {
  return Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-Math.fround(margin)))));
}

/** Whether the objective's prediction is the sigmoid of the margin (xgboost's `PredTransform`). */
export function hasSigmoidOutput(model: XgbModel): boolean {
  return model.objective === 'binary:logistic' || model.objective === 'reg:logistic';
}

/** What xgboost's `predict()` returns: the sigmoid of the margin for logistic objectives, else the margin. */
export function predictionsFromMargins(model: XgbModel, margins: Float64Array): Float64Array {
  if (!hasSigmoidOutput(model)) return Float64Array.from(margins);
  const out = new Float64Array(margins.length);
  for (let i = 0; i < margins.length; i++) out[i] = sigmoid32(margins[i]!);
  return out;
}

export function predict(model: XgbModel, values: Float64Array, rows: number, output: 'margin' | 'prediction'): Float64Array {
  const margins = predictMargins(model, values, rows);
  return output === 'margin' ? margins : predictionsFromMargins(model, margins);
}
