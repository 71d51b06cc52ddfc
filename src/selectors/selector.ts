import type { RankingPlan } from '../rankers/plan';

/** What a selector reads of the cached ranked list (item i: `ids[i]`, of `communities[i]` and `domains[i]`). */
export interface RankedList {
  readonly ids: readonly string[];
  readonly communities: readonly string[];
  readonly domains: readonly (string | null)[];
  /**
   * For "interleave:A,B": the list is in A's order and `orderB` lists its indices in B's order; null otherwise.
   */
  readonly interleave: { readonly a: string; readonly b: string; readonly orderB: readonly number[] } | null;
}

/** A session's list as the selectors shape it, one after another. */
export interface Selection {
  /** Indices into the ranked list, in the order they will be served. */
  order: number[];
  /** For each item of `order`, the ranker that contributed it (interleaving); null when one ranker placed them all. */
  teams: string[] | null;
  /**
   * How served scores follow from the ranker's: as scored; capped by the score above (an item moved up past a
   * higher-scored one keeps edges' scores non-increasing); or descending positions (interleaved rankers have no
   * common scale).
   */
  scores: 'ranker' | 'capped' | 'positions';
  /** Items a selector could not place without breaking its rule, by selector name (the MLE's funnel). */
  dropped: Record<string, number>;
}

export interface SelectorContext {
  readonly plan: RankingPlan;
  /** The request's snapshot key: seeds anything random, so the same request always selects the same way. */
  readonly key: string;
  /** Longest list a session keeps. */
  readonly maxItems: number;
}

/**
 * A selector shapes the ranked list of a session after the session filters: re-orders, merges or cuts it. To add
 * one: copy `interleave.ts`, register it in `index.ts` and name it in a feed pipeline's `selectors`.
 *
 * `check` validates the options a pipeline gives it, at start-up; `select` is pure and cheap (no I/O) and returns
 * the new selection (it may change the one it is given).
 */
export interface Selector<O = unknown> {
  readonly name: string;
  check(options: O | undefined): string | null;
  select(list: RankedList, selection: Selection, ctx: SelectorContext, options: O): Selection;
}
