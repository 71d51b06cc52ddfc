/**
 * Exact TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent Individualized Feature Attribution for Tree Ensembles",
 * Algorithm 2): per-feature contributions for each row, plus a bias column, that sum to the row's margin. This is the
 * same algorithm (and the same bias convention) as xgboost's `predict(pred_contribs=True)`:
 *  - the bias of each tree is its expected value, the cover-weighted mean of its leaves ("node mean values"), and the
 *    model's bias column is the base margin plus the sum of those;
 *  - a feature's share along a root-to-leaf path is weighted by the training cover (`sum_hessian`) of each branch;
 *  - the branch a row takes is decided exactly as in prediction (float32 compare, NaN follows default_left), so a
 *    row with missing values is explained along the path it is scored along.
 *
 * The arithmetic is float64 (xgboost uses float32), so results agree with xgboost to about 1e-6, not bit for bit.
 */
import type { XgbModel } from './model';

interface ShapState {
  /** Expected value (cover-weighted mean of the leaves below) of each node. */
  readonly meanValue: Float64Array;
  readonly bias: number;
  readonly pathSize: number;
}

const stateCache = new WeakMap<XgbModel, ShapState>();

function shapState(model: XgbModel): ShapState {
  let s = stateCache.get(model);
  if (s) return s;
  const { treeOffset, left, right, cover, leafValue } = model;
  const meanValue = new Float64Array(left.length);
  let bias = model.baseMargin;
  let maxDepth = 0;
  for (let t = 0; t < model.numTrees; t++) {
    // Nodes are stored breadth first, so walking a tree backwards visits children before their parent.
    for (let n = treeOffset[t + 1]! - 1; n >= treeOffset[t]!; n--) {
      const l = left[n]!;
      if (l < 0) meanValue[n] = leafValue[n]!;
      else {
        const r = right[n]!;
        meanValue[n] = (meanValue[l]! * cover[l]! + meanValue[r]! * cover[r]!) / cover[n]!;
      }
    }
    bias += meanValue[treeOffset[t]!]!;
    maxDepth = Math.max(maxDepth, model.treeDepth[t]!);
  }
  // Each recursion level keeps its own copy of the path (at most depth + 2 elements, the root's placeholder
  // included), laid out one after another.
  const levels = maxDepth + 3;
  s = { meanValue, bias, pathSize: (levels * (levels + 1)) / 2 + levels };
  stateCache.set(model, s);
  return s;
}

/**
 * SHAP contributions of `rows` rows (row-major, `model.numFeature` values each, NaN = missing).
 * Returns rows x (numFeature + 1), row-major; the last column of each row is the bias.
 */
export function treeShap(model: XgbModel, values: Float64Array, rows: number): Float64Array {
  const width = model.numFeature;
  if (!Number.isInteger(rows) || rows < 0 || values.length !== rows * width) {
    throw new RangeError(`xgboost model ${model.file}: expected ${rows} rows x ${width} features, got ${values.length} values`);
  }
  const { meanValue, bias, pathSize } = shapState(model);
  const { treeOffset, left, right, splitIndex, threshold, defaultChild, leafValue, cover } = model;
  const out = new Float64Array(rows * (width + 1));

  // The unique path: for each element, the feature it splits on, the fraction of "zero" (feature unknown, follow
  // covers) and "one" (feature known, follow x) paths flowing through, and the permutation weight.
  const pFeature = new Int32Array(pathSize);
  const pZero = new Float64Array(pathSize);
  const pOne = new Float64Array(pathSize);
  const pWeight = new Float64Array(pathSize);
  const x = new Float32Array(width);
  let phiBase = 0;

  // Reciprocals of 1..maxDepth+3: the path updates divide by small integers in their innermost loops (O(depth²) per
  // leaf reached), and a floating-point multiplication is far cheaper than a division (dividers are slow and not
  // fully pipelined).
  const inv = new Float64Array(pathSize + 2);
  for (let k = 1; k < inv.length; k++) inv[k] = 1 / k;

  const extend = (base: number, depth: number, zero: number, one: number, feature: number): void => {
    pFeature[base + depth] = feature;
    pZero[base + depth] = zero;
    pOne[base + depth] = one;
    pWeight[base + depth] = depth === 0 ? 1 : 0;
    const invScale = inv[depth + 1]!;
    for (let i = depth - 1; i >= 0; i--) {
      const w = pWeight[base + i]!;
      pWeight[base + i + 1] = pWeight[base + i + 1]! + one * w * (i + 1) * invScale;
      pWeight[base + i] = zero * w * (depth - i) * invScale;
    }
  };

  /** Removes element `index` from the path, undoing its extend. */
  const unwind = (base: number, depth: number, index: number): void => {
    const one = pOne[base + index]!;
    const zero = pZero[base + index]!;
    const scale = depth + 1;
    const invScale = inv[scale]!;
    let next = pWeight[base + depth]!;
    for (let i = depth - 1; i >= 0; i--) {
      if (one !== 0) {
        const w = pWeight[base + i]!;
        const unwound = (next * scale * inv[i + 1]!) / one;
        pWeight[base + i] = unwound;
        next = w - unwound * zero * (depth - i) * invScale;
      } else {
        pWeight[base + i] = (pWeight[base + i]! * scale * inv[depth - i]!) / zero;
      }
    }
    for (let i = index; i < depth; i++) {
      pFeature[base + i] = pFeature[base + i + 1]!;
      pZero[base + i] = pZero[base + i + 1]!;
      pOne[base + i] = pOne[base + i + 1]!;
    }
  };

  /** The total permutation weight the path would have without element `index` (without modifying it). */
  const unwoundSum = (base: number, depth: number, index: number): number => {
    const one = pOne[base + index]!;
    const zero = pZero[base + index]!;
    const scale = depth + 1;
    const invScale = inv[scale]!;
    let total = 0;
    if (one !== 0) {
      const invOne = 1 / one;
      let next = pWeight[base + depth]!;
      for (let i = depth - 1; i >= 0; i--) {
        const w = next * scale * inv[i + 1]! * invOne;
        total += w;
        next = pWeight[base + i]! - w * zero * (depth - i) * invScale;
      }
    } else if (zero !== 0) {
      for (let i = depth - 1; i >= 0; i--) total += pWeight[base + i]! * scale * inv[depth - i]!;
      total /= zero;
    }
    return total;
  };

  const recurse = (node: number, depth: number, parentBase: number, zero: number, one: number, feature: number): void => {
    // This level's path starts after the parent's and begins as a copy of its `depth` elements (the element at
    // `depth` is the one `extend` adds). The parent's copy stays intact for its other child.
    const base = parentBase + depth + 1;
    // (Plain loops: these copies are a few elements long, too short for copyWithin's call to pay off.)
    for (let i = 0; i < depth; i++) {
      pFeature[base + i] = pFeature[parentBase + i]!;
      pZero[base + i] = pZero[parentBase + i]!;
      pOne[base + i] = pOne[parentBase + i]!;
      pWeight[base + i] = pWeight[parentBase + i]!;
    }
    extend(base, depth, zero, one, feature);

    const split = splitIndex[node]!;
    if (split < 0) {
      const value = leafValue[node]!;
      for (let i = 1; i <= depth; i++) {
        const w = unwoundSum(base, depth, i);
        const at = phiBase + pFeature[base + i]!;
        out[at] = out[at]! + w * (pOne[base + i]! - pZero[base + i]!) * value;
      }
      return;
    }
    const v = x[split]!;
    const l = left[node]!;
    const hot = v < threshold[node]! ? l : v >= threshold[node]! ? right[node]! : defaultChild[node]!;
    const cold = hot === l ? right[node]! : l;
    const w = cover[node]!;
    let incomingZero = 1;
    let incomingOne = 1;
    // A feature split on again below: undo its earlier element and fold its fractions into this split.
    let k = 0;
    while (k <= depth && pFeature[base + k] !== split) k++;
    let d = depth;
    if (k <= depth) {
      incomingZero = pZero[base + k]!;
      incomingOne = pOne[base + k]!;
      unwind(base, d, k);
      d -= 1;
    }
    recurse(hot, d + 1, base, (cover[hot]! / w) * incomingZero, incomingOne, split);
    recurse(cold, d + 1, base, (cover[cold]! / w) * incomingZero, 0, split);
  };

  for (let r = 0; r < rows; r++) {
    // Round the row to float32 once: branch decisions must be the ones prediction takes.
    x.set(values.subarray(r * width, (r + 1) * width));
    phiBase = r * (width + 1);
    for (let t = 0; t < model.numTrees; t++) {
      const root = treeOffset[t]!;
      if (splitIndex[root]! < 0) continue; // a lone leaf only moves the bias
      // The root's placeholder element (feature -1, fractions 1) sits at the start of the buffer.
      recurse(root, 0, -1, 1, 1, -1);
    }
    out[phiBase + width] = bias;
  }
  return out;
}

/** The bias column's value (base margin plus every tree's expected value). */
export function shapBias(model: XgbModel): number {
  return shapState(model).bias;
}

/** Node expected values, exposed for tests. */
export function nodeMeanValues(model: XgbModel): Float64Array {
  return shapState(model).meanValue;
}
