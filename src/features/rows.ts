import type { Community, Post } from '../content';
import { PostTable } from '../store/post-table';
import { FEATURES, type FeatureDefinition, type FeatureInput } from './registry';

/**
 * What is kept of the features that depend on the post alone or on its community alone: computed once per post (per
 * community) and read by every request's feature batch, instead of computed for every candidate of every request.
 */

/** The post-scoped features, in registry order: the layout of a `postFeatureRow`. */
const POST_SCOPED: readonly FeatureDefinition[] = FEATURES.filter((f) => f.scope === 'post');
/** The community-scoped features, in registry order: the layout of a `communityFeatureRow`. */
const COMMUNITY_SCOPED: readonly FeatureDefinition[] = FEATURES.filter((f) => f.scope === 'community');
const SLOT = new Map([...POST_SCOPED.map((f, i) => [f.name, i] as const), ...COMMUNITY_SCOPED.map((f, i) => [f.name, i] as const)]);

/** Where a post- or community-scoped feature sits in its `postFeatureRow` / `communityFeatureRow`. */
export function featureSlot(name: string): number | undefined {
  return SLOT.get(name);
}

const postRows = new WeakMap<Post, Float64Array>();
const communityRows = new WeakMap<Community, Float64Array>();
/** Width of a `postFeatureRow`. */
const POST_WIDTH = POST_SCOPED.length;

/** The post-scoped rows of one table's posts, row r at r * POST_WIDTH; `computed[r]` once row r is filled. */
interface TableRows {
  readonly values: Float64Array;
  readonly computed: Uint8Array;
  /** Every row is computed (set by `keepPostFeatures`). */
  complete: boolean;
}
/** One entry per `PostTable` (per seeding of an embedded store), not per post. */
const tableRows = new WeakMap<PostTable, TableRows>();

function computePostRow(post: Post, out: Float64Array, offset: number): void {
  const input: FeatureInput = { post, community: null, viewer: null, contextTokens: null, contextCommunity: null };
  for (let i = 0; i < POST_WIDTH; i++) out[offset + i] = POST_SCOPED[i]!.compute(input);
}

/**
 * The post-scoped features of a post (slot i: the i-th post-scoped feature of `FEATURES`; see `featureSlot`).
 * Computed on first use and kept: the title's regular expressions, token counts and date parts run once per post
 * instead of once per request. Posts are immutable, so the kept values are what `compute` returns.
 *
 * A post read from the embedded store (a `PostTable`) is a new object on every read, so its row is kept in one
 * Float64Array for the whole table, by the post's row there (and returned as a view of it), for the table's life. Any
 * other post's row is kept as long as the post object lives (Redis's while they are in its post LRU).
 */
export function postFeatureRow(post: Post): Float64Array {
  const table = PostTable.tableOf(post);
  if (table) {
    const rows = rowsOf(table);
    const offset = filledRow(rows, post);
    return rows.values.subarray(offset, offset + POST_WIDTH);
  }
  let row = postRows.get(post);
  if (row === undefined) {
    row = new Float64Array(POST_WIDTH);
    computePostRow(post, row, 0);
    postRows.set(post, row);
  }
  return row;
}

/**
 * Writes a post's post-scoped features into a feature batch: for each k, `out[at + columns[k]] = row[slots[k]]`, where
 * `row` is `postFeatureRow(post)`. A post read from a table is read in place, without the view `postFeatureRow`
 * makes: a cold home request fills a row per candidate (over a thousand), and a view per row was that many
 * short-lived objects.
 */
export function writePostFeatures(post: Post, slots: Int32Array, columns: Int32Array, out: Float64Array, at: number): void {
  const table = PostTable.tableOf(post);
  if (table) {
    const rows = rowsOf(table);
    const offset = filledRow(rows, post);
    for (let k = 0; k < slots.length; k++) out[at + columns[k]!] = rows.values[offset + slots[k]!]!;
    return;
  }
  const row = postFeatureRow(post);
  for (let k = 0; k < slots.length; k++) out[at + columns[k]!] = row[slots[k]!]!;
}

/**
 * The post-scoped rows of `table`'s posts when every row is computed (`keepPostFeatures` ran), else null: row r at
 * r * `POST_FEATURE_WIDTH`, slot i being the i-th post-scoped feature. A feature batch reads them in place, looking the
 * table up once instead of once per candidate.
 */
export function keptPostFeatures(table: PostTable): Float64Array | null {
  const rows = tableRows.get(table);
  return rows?.complete ? rows.values : null;
}

/** Width of a row of `keptPostFeatures`. */
export const POST_FEATURE_WIDTH = POST_WIDTH;

/** The offset of `post`'s row in its table's rows, computing the row on first use. */
function filledRow(rows: TableRows, post: Post): number {
  const r = PostTable.rowOf(post);
  const offset = r * POST_WIDTH;
  if (rows.computed[r] === 0) {
    computePostRow(post, rows.values, offset);
    rows.computed[r] = 1;
  }
  return offset;
}

function rowsOf(table: PostTable): TableRows {
  let rows = tableRows.get(table);
  if (rows === undefined) {
    rows = { values: new Float64Array(table.size * POST_WIDTH), computed: new Uint8Array(table.size), complete: false };
    tableRows.set(table, rows);
  }
  return rows;
}

/**
 * Computes the post-scoped features of every post of `table` now, instead of on each post's first request: one row of
 * POST_WIDTH float64 values a post, written once, so a serving process does not grow as more of the corpus is ranked.
 */
export function keepPostFeatures(table: PostTable): void {
  const rows = rowsOf(table);
  for (let r = 0; r < table.size; r++) {
    if (rows.computed[r] === 1) continue;
    computePostRow(table.post(r), rows.values, r * POST_WIDTH);
    rows.computed[r] = 1;
  }
  rows.complete = true;
}

/** The community-scoped features of a post's community, kept per community like `postFeatureRow`. */
export function communityFeatureRow(post: Post, community: Community): Float64Array {
  let row = communityRows.get(community);
  if (row === undefined) {
    row = new Float64Array(COMMUNITY_SCOPED.length);
    // Community-scoped features read only `community`; the post is there to make a complete input.
    const input: FeatureInput = { post, community, viewer: null, contextTokens: null, contextCommunity: null };
    for (let i = 0; i < COMMUNITY_SCOPED.length; i++) row[i] = COMMUNITY_SCOPED[i]!.compute(input);
    communityRows.set(community, row);
  }
  return row;
}
