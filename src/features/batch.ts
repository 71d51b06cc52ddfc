import type { Community } from '../content';
import { PostTable } from '../store/post-table';
import { featureDefinition, type FeatureDefinition, type FeatureInput } from './registry';
import { communityFeatureRow, featureSlot, keptPostFeatures, POST_FEATURE_WIDTH, writePostFeatures } from './rows';

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

/** How one column is filled: copied from the post's kept row, from the community's, or computed for this request. */
interface ColumnPlan {
  /** The feature names planned, in column order. */
  readonly names: readonly string[];
  readonly post: Int32Array;
  readonly postSlot: Int32Array;
  readonly community: Int32Array;
  readonly communitySlot: Int32Array;
  readonly communityDefs: readonly FeatureDefinition[];
  readonly computed: Int32Array;
  readonly computedDefs: readonly FeatureDefinition[];
  /** Of the computed columns, those that read the post through its community alone (`byCommunity`). */
  readonly byCommunity: Uint8Array;
}

const plans = new WeakMap<readonly string[], ColumnPlan>();

function columnPlan(features: readonly string[]): ColumnPlan {
  let plan = plans.get(features);
  // The same array with the same names (a caller could reuse and refill an array): checking costs one compare a column.
  if (plan && plan.names.length === features.length && plan.names.every((n, i) => n === features[i])) return plan;
  const post: number[] = [];
  const postSlot: number[] = [];
  const community: number[] = [];
  const communitySlot: number[] = [];
  const communityDefs: FeatureDefinition[] = [];
  const computed: number[] = [];
  const computedDefs: FeatureDefinition[] = [];
  features.forEach((name, c) => {
    const def = featureDefinition(name);
    if (!def) throw new Error(`unknown feature "${name}"`);
    const slot = featureSlot(name)!;
    if (def.scope === 'post') (post.push(c), postSlot.push(slot));
    else if (def.scope === 'community') (community.push(c), communitySlot.push(slot), communityDefs.push(def));
    else (computed.push(c), computedDefs.push(def));
  });
  plan = {
    names: [...features],
    post: Int32Array.from(post),
    postSlot: Int32Array.from(postSlot),
    community: Int32Array.from(community),
    communitySlot: Int32Array.from(communitySlot),
    communityDefs,
    computed: Int32Array.from(computed),
    computedDefs,
    byCommunity: Uint8Array.from(computedDefs, (d) => (d.byCommunity ? 1 : 0)),
  };
  // Rankers pass the same `features` array on every call; a caller's one-off array is simply planned again.
  plans.set(features, plan);
  return plan;
}

/**
 * Builds the feature rows a ranker declared: one row per input, same order as `inputs`, columns in the order of
 * `features`. A missing value is NaN, whatever the feature. Every value of the batch is written (so a reused buffer
 * needs no clearing).
 *
 * Post- and community-scoped values come from rows kept per post and per community (src/features/rows.ts), so a request
 * computes only what depends on it (the viewer's and the context's features); every value equals the feature's
 * `compute` on the same input.
 */
export function buildFeatureBatch(features: readonly string[], inputs: readonly FeatureInput[]): FeatureBatch {
  return fillFeatureBatch(features, inputs, new Float64Array(inputs.length * features.length));
}

/** Idle batch buffers kept for reuse by `withFeatureBatch` (about one per request scoring at the same time). */
const MAX_FREE = 8;
const free: ArrayBuffer[] = [];

/**
 * Builds a batch like `buildFeatureBatch` in a reused buffer, runs `use` on it, and takes the buffer back once the
 * promise `use` returns has settled: `use` (a ranker's `score`) must not keep the batch beyond that. A cold home
 * request's batch is rows x features x 8 bytes, a row per candidate (over a thousand) of a few dozen features;
 * allocating one per request added that much external memory each time, which made V8 collect its heap (the whole
 * corpus) more often.
 */
export async function withFeatureBatch<T>(features: readonly string[], inputs: readonly FeatureInput[], use: (batch: FeatureBatch) => Promise<T>): Promise<T> {
  const length = inputs.length * features.length;
  const i = free.findIndex((b) => b.byteLength >= length * 8);
  const buffer = i >= 0 ? free.splice(i, 1)[0]! : new ArrayBuffer(Math.max(8, Math.ceil(length * 1.25) * 8));
  try {
    return await use(fillFeatureBatch(features, inputs, new Float64Array(buffer, 0, length)));
  } finally {
    if (free.length >= MAX_FREE) free.shift();
    free.push(buffer);
  }
}

function fillFeatureBatch(features: readonly string[], inputs: readonly FeatureInput[], values: Float64Array): FeatureBatch {
  const plan = columnPlan(features);
  const width = features.length;
  const rows = inputs.length;
  const { post, postSlot, community, communitySlot, communityDefs, computed, computedDefs, byCommunity } = plan;
  const nPost = post.length;
  const nCommunity = community.length;
  const nComputed = computed.length;
  // Posts of one table (the embedded store's) are read from its kept rows in place; the table and the community row
  // are looked up when they change, not per candidate (a cold home request fills a row per candidate, over a thousand).
  let table: PostTable | undefined;
  let kept: Float64Array | null = null;
  let lastCommunity: Community | null = null;
  let communityRow: Float64Array | null = null;
  // The `byCommunity` values of the previous row, reused while the community, viewer and context stay the same
  // (candidates come in runs of one community: a subscription's posts are listed together).
  const memo = new Float64Array(nComputed);
  let memoFor: FeatureInput | null = null;
  for (let r = 0; r < rows; r++) {
    const input = inputs[r]!;
    const o = r * width;
    if (nPost > 0) {
      const t = PostTable.tableOf(input.post);
      if (t !== table) {
        table = t;
        kept = t ? keptPostFeatures(t) : null;
      }
      if (kept !== null) {
        const at = PostTable.rowOf(input.post) * POST_FEATURE_WIDTH;
        for (let k = 0; k < nPost; k++) values[o + post[k]!] = kept[at + postSlot[k]!]!;
      } else {
        writePostFeatures(input.post, postSlot, post, values, o);
      }
    }
    if (nCommunity > 0) {
      if (input.community) {
        if (input.community !== lastCommunity) {
          lastCommunity = input.community;
          communityRow = communityFeatureRow(input.post, input.community);
        }
        const row = communityRow!;
        for (let k = 0; k < nCommunity; k++) values[o + community[k]!] = row[communitySlot[k]!]!;
      } else {
        for (let k = 0; k < nCommunity; k++) values[o + community[k]!] = communityDefs[k]!.compute(input);
      }
    }
    if (nComputed > 0) {
      const reuse =
        memoFor !== null &&
        memoFor.post.community === input.post.community &&
        memoFor.viewer === input.viewer &&
        memoFor.contextCommunity === input.contextCommunity &&
        memoFor.contextTokens === input.contextTokens;
      for (let k = 0; k < nComputed; k++) {
        if (byCommunity[k] === 0) values[o + computed[k]!] = computedDefs[k]!.compute(input);
        else if (reuse) values[o + computed[k]!] = memo[k]!;
        else values[o + computed[k]!] = memo[k] = computedDefs[k]!.compute(input);
      }
      if (!reuse) memoFor = input;
    }
  }
  return { features, rows, values };
}
