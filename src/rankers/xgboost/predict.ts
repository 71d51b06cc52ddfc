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
 * Speed (`npm run bench` runs bench/scorer.ts, which compares this scorer with native xgboost's inplace_predict on
 * one thread, same model and rows):
 *  - Tree by tree over a chunk of rows, not row by row over all trees: the model does not fit in L2, so walking every
 *    tree for one row and then the next reloads each tree's nodes once per row; tree by tree, a tree's nodes stay in
 *    cache while the whole chunk walks it.
 *  - Branchless steps: `next = left + 4 * goRight`, with the comparison turned into 0/1 arithmetic instead of a
 *    jump. Random data mispredicts about half of all split branches, and each misprediction throws away the work the
 *    CPU started on the wrong path; arithmetic has nothing to mispredict.
 *  - Missing values cost no test: each row is held twice, as given and with NaN replaced by +Infinity, and a node
 *    whose missing values go right reads the second copy. `x >= threshold` is false for NaN (left) and true for
 *    +Infinity (right, whatever the finite or infinite threshold), and every other value is the same in both copies,
 *    so each node sends every value where xgboost does. One load and two operations fewer a step.
 *  - Every walk takes exactly the tree's depth in steps: a leaf is encoded as a node that loops onto itself
 *    (column 0, threshold NaN, so it never goes right), so there is no leaf test either; its value sits in the same
 *    node, on the same cache line.
 *  - Eight rows walk the same tree at once. Each walk is a chain of dependent loads (node, value, next node); eight
 *    independent chains keep the CPU busy while one waits: the more independent chains, the more loads the CPU can
 *    have in flight at once.
 * The rows are rounded once into a Float32Array (the float32 rounding above, done once per value instead of once per
 * visit); callers that already hold float32 rows pass them as they are. Rows are walked in chunks so a chunk's rows
 * stay in cache across all trees. Trees much deeper on one side than the other pay for the fixed step count (a row
 * reaching a shallow leaf keeps stepping in place); xgboost's depthwise trees do not.
 *
 * The walk itself is `marginsKernel`: a function that reads nothing but its arguments, so the scoring worker
 * (`pool.ts`) runs the very same code off the event loop.
 */
import type { XgbModel } from './model';

/**
 * One node per 4 32-bit slots, so a visit touches one cache line instead of one per array:
 * [column to read, 4 x left child, threshold (float32 bits), leaf value (float32 bits)]. The column to read is the
 * split column, plus the row width when missing values go right (the row's copy with NaN as +Infinity). The right
 * child is the left child + 1 node (the model guarantees it), i.e. + 4 slots. A leaf is [0, 4 x itself, NaN, value]:
 * `x >= NaN` is false, so a walk that reaches it stays there.
 *
 * It lives in SharedArrayBuffers, so the scoring workers read the same memory instead of a copy each.
 */
export interface PackedModel {
  /** The nodes, as int32 (column, left child). */
  readonly nodes: Int32Array;
  /** The same memory as float32 (threshold, leaf value). */
  readonly values: Float32Array;
  /** Slot of each tree's root. */
  readonly roots: Int32Array;
  readonly depths: Int32Array;
  readonly baseMargin: number;
  readonly width: number;
}

const packedCache = new WeakMap<XgbModel, PackedModel>();

const shared = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(Math.max(bytes, 4));

/** The model in the layout the kernel walks (built once per model and kept). */
export function packedModel(model: XgbModel): PackedModel {
  let p = packedCache.get(model);
  if (p) return p;
  const n = model.splitIndex.length;
  const width = model.numFeature;
  const buffer = shared(n * 16);
  const nodes = new Int32Array(buffer, 0, n * 4);
  const values = new Float32Array(buffer, 0, n * 4);
  for (let i = 0; i < n; i++) {
    const f = model.splitIndex[i]!;
    if (f < 0) {
      nodes[4 * i + 1] = 4 * i;
      values[4 * i + 2] = NaN;
      values[4 * i + 3] = model.leafValue[i]!;
    } else {
      nodes[4 * i] = model.defaultLeft[i]! ? f : f + width;
      nodes[4 * i + 1] = 4 * model.left[i]!;
      values[4 * i + 2] = model.threshold[i]!;
    }
  }
  const roots = new Int32Array(shared(model.numTrees * 4), 0, model.numTrees);
  for (let t = 0; t < model.numTrees; t++) roots[t] = 4 * model.treeOffset[t]!;
  const depths = new Int32Array(shared(model.numTrees * 4), 0, model.numTrees);
  depths.set(model.treeDepth);
  p = { nodes, values, roots, depths, baseMargin: model.baseMargin, width };
  packedCache.set(model, p);
  return p;
}

function checkShape(model: XgbModel, values: ArrayLike<number>, rows: number): void {
  if (!Number.isInteger(rows) || rows < 0 || values.length !== rows * model.numFeature) {
    throw new RangeError(`xgboost model ${model.file}: expected ${rows} rows x ${model.numFeature} features = ${rows * model.numFeature} values, got ${values.length}`);
  }
}

/**
 * Rows rounded to float32 as xgboost holds them. `Float32Array.from` / the constructor round each float64 to the
 * nearest float32, exactly like Math.fround and xgboost's cast; float32 rows are used as they are.
 */
export function float32Rows(values: Float64Array | Float32Array): Float32Array {
  return values instanceof Float32Array ? values : new Float32Array(values);
}

/**
 * Margins (raw scores before the objective's transform) of `rows` rows, row-major, `model.numFeature` values each,
 * NaN = missing. Each result is a float32 value held in a float64; row i's margin is at index i.
 */
export function predictMargins(model: XgbModel, values: Float64Array | Float32Array, rows: number): Float64Array {
  checkShape(model, values, rows);
  const out = new Float64Array(rows);
  if (rows === 0) return out;
  const p = packedModel(model);
  marginsKernel(p.nodes, p.values, p.roots, p.depths, p.baseMargin, p.width, float32Rows(values), rows, out, null);
  return out;
}

/**
 * The tree walk: writes the margins of `rows` float32 rows of `width` values (row-major, NaN = missing) to `out`.
 * It reads nothing but its arguments (no imports, no closure, no helpers), because the scoring worker builds it from
 * this function's source text; keep it that way.
 */
export function marginsKernel(
  nodes: Int32Array,
  nv: Float32Array,
  roots: Int32Array,
  depths: Int32Array,
  baseMargin: number,
  width: number,
  x: Float32Array,
  rows: number,
  out: Float64Array,
  scratch: Float32Array | null,
): void {
  // Rows walked per tree pass, so a chunk's rows (1024 x 2 copies x width x 4 bytes) stay in cache across all trees.
  const chunk = Math.min(rows, 1024);
  const w2 = 2 * width;
  // Working memory: the chunk's doubled rows, then its running sums. A caller scoring often passes its own, reused.
  const space = scratch !== null && scratch.length >= chunk * (w2 + 1) ? scratch : new Float32Array(chunk * (w2 + 1));
  const xx = space.subarray(0, chunk * w2);
  const acc = space.subarray(chunk * w2, chunk * (w2 + 1));
  const trees = roots.length;
  for (let start = 0; start < rows; start += chunk) {
    const count = Math.min(chunk, rows - start);
    // Each row twice: as given, then with NaN (missing) as +Infinity, for the nodes that send missing values right.
    for (let r = 0; r < count; r++) {
      const from = (start + r) * width;
      const to = r * w2;
      for (let c = 0; c < width; c++) {
        const v = x[from + c]!;
        xx[to + c] = v;
        xx[to + width + c] = v !== v ? Infinity : v;
      }
    }
    for (let r = 0; r < count; r++) acc[r] = baseMargin;
    const count8 = count - (count % 8);
    for (let t = 0; t < trees; t++) {
      const root = roots[t]!;
      const depth = depths[t]!;
      // One step: go right (+4 slots) when x >= threshold. `+(bool)` compiles to a 0/1 value, not a branch.
      let r = 0;
      for (; r < count8; r += 8) {
        const o0 = r * w2;
        const o1 = o0 + w2;
        const o2 = o1 + w2;
        const o3 = o2 + w2;
        const o4 = o3 + w2;
        const o5 = o4 + w2;
        const o6 = o5 + w2;
        const o7 = o6 + w2;
        let n0 = root;
        let n1 = root;
        let n2 = root;
        let n3 = root;
        let n4 = root;
        let n5 = root;
        let n6 = root;
        let n7 = root;
        for (let d = 0; d < depth; d++) {
          n0 = nodes[n0 + 1]! + (+(xx[o0 + nodes[n0]!]! >= nv[n0 + 2]!) << 2);
          n1 = nodes[n1 + 1]! + (+(xx[o1 + nodes[n1]!]! >= nv[n1 + 2]!) << 2);
          n2 = nodes[n2 + 1]! + (+(xx[o2 + nodes[n2]!]! >= nv[n2 + 2]!) << 2);
          n3 = nodes[n3 + 1]! + (+(xx[o3 + nodes[n3]!]! >= nv[n3 + 2]!) << 2);
          n4 = nodes[n4 + 1]! + (+(xx[o4 + nodes[n4]!]! >= nv[n4 + 2]!) << 2);
          n5 = nodes[n5 + 1]! + (+(xx[o5 + nodes[n5]!]! >= nv[n5 + 2]!) << 2);
          n6 = nodes[n6 + 1]! + (+(xx[o6 + nodes[n6]!]! >= nv[n6 + 2]!) << 2);
          n7 = nodes[n7 + 1]! + (+(xx[o7 + nodes[n7]!]! >= nv[n7 + 2]!) << 2);
        }
        // A Float32Array store rounds the float64 sum of two float32s to the float32 sum (see above).
        acc[r] = acc[r]! + nv[n0 + 3]!;
        acc[r + 1] = acc[r + 1]! + nv[n1 + 3]!;
        acc[r + 2] = acc[r + 2]! + nv[n2 + 3]!;
        acc[r + 3] = acc[r + 3]! + nv[n3 + 3]!;
        acc[r + 4] = acc[r + 4]! + nv[n4 + 3]!;
        acc[r + 5] = acc[r + 5]! + nv[n5 + 3]!;
        acc[r + 6] = acc[r + 6]! + nv[n6 + 3]!;
        acc[r + 7] = acc[r + 7]! + nv[n7 + 3]!;
      }
      for (; r < count; r++) {
        const o = r * w2;
        let n = root;
        for (let d = 0; d < depth; d++) n = nodes[n + 1]! + (+(xx[o + nodes[n]!]! >= nv[n + 2]!) << 2);
        acc[r] = acc[r]! + nv[n + 3]!;
      }
    }
    for (let r = 0; r < count; r++) out[start + r] = acc[r]!;
  }
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

export function predict(model: XgbModel, values: Float64Array | Float32Array, rows: number, output: 'margin' | 'prediction'): Float64Array {
  const margins = predictMargins(model, values, rows);
  return output === 'margin' ? margins : predictionsFromMargins(model, margins);
}
