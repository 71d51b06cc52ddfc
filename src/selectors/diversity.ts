import type { Selector } from './selector';

/**
 * Diversity re-ranking: a ranked list is re-ordered so that no community and no domain crowds any stretch of the
 * feed, while staying as close to the ranker's order as the rule allows.
 *
 * The rule is a guarantee, never a preference: every list `diversify` returns satisfies it. When, at some position,
 * every remaining item would break it (say the candidates left are all of one community), the list ends there; the
 * items left over are not appended anyway, and the shortfall is reported as `dropped` so the caller can count it.
 */

export interface DiversityRule {
  /** Window length W: the constraints hold in every run of W consecutive items. */
  readonly window: number;
  /** At most this many items of one community in any window (N). */
  readonly maxPerCommunity: number;
  /** At most this many items of one domain in any window (M); items with a null domain are unconstrained by it. */
  readonly maxPerDomain: number;
}

export interface DiversityItem {
  readonly community: string;
  /** null: not counted against any domain (it never matches another null, nor the string "null"). */
  readonly domain: string | null;
}

export interface Diversified {
  /** Indices into the input, best first; no index twice. */
  readonly order: number[];
  /**
   * How many places short of `min(items.length, limit)` the list stopped because nothing left could follow it
   * (`dropped + order.length === min(items.length, limit)`). 0 whenever the list is as long as it could be without
   * the rule.
   */
  readonly dropped: number;
}

/**
 * Both the index of an item and a queue or group id are packed into one double (`index * ids + id`) for the heaps;
 * that is exact below 2^53, which this bound keeps with room to spare.
 */
const MAX_ITEMS = 2 ** 25;

/**
 * Re-orders `items` (given best first) so that every window of `rule.window` consecutive items of the result holds at
 * most maxPerCommunity of one community and maxPerDomain of one domain. A list shorter than the window counts as one
 * window, so the rule also holds for every prefix (a page of 2 never shows 3 posts of one community).
 *
 * Greedy: at each position take the best remaining item that keeps the constraints, that is the item of lowest
 * input index whose community and domain are each below their cap among the previous W - 1 items. Items that are
 * alike (same community and domain) therefore keep their input order, and item 0 always comes first. When no
 * remaining item fits, the list ends there: appending one would break the rule, and no later position could be
 * filled either, since its window would hold the same full counts. Returns indices into `items`, best first, at most
 * `limit` long (`Infinity` for no limit).
 *
 * Cost. The counts of the trailing window are kept incrementally (one increment and one decrement per placed item),
 * so testing an item is O(1) and no window is ever rescanned. Items are grouped by (community, domain): members of a
 * group always fit or fail together, so only a group's best remaining item is looked at. Groups are searched in rank
 * order through heaps; a group that does not fit is filed under the key (community or domain) that is full, and is
 * not looked at again until that key's count drops below its cap. A long run of one dominant community or domain is
 * thus set aside once instead of being rescanned at every position (where a rescan from the first unplaced item
 * looks at thousands of items per position on a 10,000-item list, this looks at a handful). With e groups examined
 * per placed item the cost is O((n + k·e) log n) for n items and an output of k; e stays a small constant on long
 * lists, dominant keys and adversarial clumps included (test/unit/diversity.test.ts). Worst case: a group is examined again each time
 * the key it waits on reopens while its other key is full, so lists built to make two keys fill up alternately
 * degrade towards O(n · k · log n), a full rescan per position; none is worse.
 *
 * @throws RangeError when the rule or `limit` is not usable (a window or cap below 1 or not an integer). The rule
 *   is server configuration, so this is a programming error and surfaces as INTERNAL_SERVER_ERROR.
 */
export function diversify<T extends DiversityItem>(items: readonly T[], rule: DiversityRule, limit: number): Diversified {
  return diversifyBy(items.length, (i) => items[i]!.community, (i) => items[i]!.domain, rule, limit);
}

/**
 * `diversify` over `n` items given by their community and domain at each index, for callers that hold them as
 * columns: a feed's session diversifies about a thousand items a request, and an object per item was garbage on every
 * one.
 */
export function diversifyBy(
  n: number,
  communityAt: (i: number) => string,
  domainAt: (i: number) => string | null,
  rule: DiversityRule,
  limit: number,
): Diversified {
  checkRule(rule);
  if (!(limit >= 0) || (limit !== Infinity && !Number.isInteger(limit))) {
    throw new RangeError(`diversify: limit must be a non-negative integer or Infinity, got ${limit}`);
  }
  if (n > MAX_ITEMS) throw new RangeError(`diversify: at most ${MAX_ITEMS} items, got ${n}`);
  const wanted = Math.min(n, limit);
  if (wanted === 0) return { order: [], dropped: 0 };

  // Keys: communities are 0..C-1, domains C..C+D-1; an item with a null domain has none (-1).
  const communityIds = new Map<string, number>();
  const domainIds = new Map<string, number>();
  const itemCommunity = new Int32Array(n);
  const itemDomain = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const community = communityAt(i);
    const domain = domainAt(i);
    let c = communityIds.get(community);
    if (c === undefined) communityIds.set(community, (c = communityIds.size));
    itemCommunity[i] = c;
    let d = -1;
    if (domain !== null) {
      d = domainIds.get(domain) ?? -1;
      if (d < 0) domainIds.set(domain, (d = domainIds.size));
    }
    itemDomain[i] = d;
  }
  const communities = communityIds.size;
  const keys = communities + domainIds.size;
  for (let i = 0; i < n; i++) if (itemDomain[i]! >= 0) itemDomain[i]! += communities;
  // A cap above n cannot bind; clamping keeps it exact in an Int32Array.
  const cap = new Int32Array(keys)
    .fill(Math.min(rule.maxPerDomain, n), communities)
    .fill(Math.min(rule.maxPerCommunity, n), 0, communities);
  const count = new Int32Array(keys);
  const full = (key: number) => count[key]! >= cap[key]!;

  // Groups of alike items, numbered in order of their best item; members listed best first (a counting sort).
  const groupIds = new Map<number, number>();
  const itemGroup = new Int32Array(n);
  const groupCommunity: number[] = [];
  const groupDomain: number[] = [];
  for (let i = 0; i < n; i++) {
    const pair = itemCommunity[i]! * (keys + 1) + itemDomain[i]! + 1;
    let g = groupIds.get(pair);
    if (g === undefined) {
      groupIds.set(pair, (g = groupIds.size));
      groupCommunity.push(itemCommunity[i]!);
      groupDomain.push(itemDomain[i]!);
    }
    itemGroup[i] = g;
  }
  const groups = groupIds.size;
  const bounds = new Int32Array(groups + 1);
  for (let i = 0; i < n; i++) bounds[itemGroup[i]! + 1]!++;
  for (let g = 0; g < groups; g++) bounds[g + 1]! += bounds[g]!;
  const members = new Int32Array(n);
  const next = bounds.slice(0, groups); // next[g]: where in `members` group g's best remaining item is
  for (let i = 0; i < n; i++) members[next[itemGroup[i]!]!++] = i;
  next.set(bounds.subarray(0, groups));
  const end = bounds.subarray(1);

  // Queues hold groups keyed by their best remaining item (`index * groups + g`). Queue `keys` is the pool of groups
  // not yet examined; queue k < keys holds groups waiting for key k, which was full when they were examined. `open`
  // holds the head of every queue that may yield an item: the pool, and each queue whose key is below its cap.
  // Entries of `open` are not removed when a key fills up or a head moves; they are recognised as stale when popped.
  const POOL = keys;
  const queueIds = keys + 1;
  const queues: (MinHeap | undefined)[] = new Array<MinHeap | undefined>(queueIds);
  queues[POOL] = new MinHeap(Array.from({ length: groups }, (_, g) => members[next[g]!]! * groups + g));
  const open = new MinHeap();
  const announce = (q: number) => {
    const queue = queues[q];
    if (queue && queue.size > 0) open.push(Math.floor(queue.peek() / groups) * queueIds + q);
  };
  announce(POOL);

  const order: number[] = [];
  const window = rule.window;
  const release = (key: number) => {
    // Just below its cap again: the groups that waited on this key may fit now.
    if (key >= 0 && --count[key]! === cap[key]! - 1) announce(key);
  };
  const place = (i: number) => {
    order.push(i);
    count[itemCommunity[i]!]!++;
    if (itemDomain[i]! >= 0) count[itemDomain[i]!]!++;
    // The counts cover the trailing W - 1 items, the ones the next item's window shares.
    if (order.length < window) return;
    const out = order[order.length - window]!;
    release(itemCommunity[out]!);
    release(itemDomain[out]!);
  };

  while (order.length < wanted) {
    let placed = false;
    while (!placed && open.size > 0) {
      const entry = open.pop();
      const q = entry % queueIds;
      const index = (entry - q) / queueIds;
      const queue = queues[q]!;
      if (queue.size === 0 || (q !== POOL && full(q)) || Math.floor(queue.peek() / groups) !== index) continue;
      const g = queue.pop() % groups;
      const c = groupCommunity[g]!;
      const d = groupDomain[g]!;
      const blocker = full(c) ? c : d >= 0 && full(d) ? d : -1;
      if (blocker >= 0) {
        // The blocker is full, so its queue has no live entry in `open`; `release` announces it when it reopens.
        (queues[blocker] ??= new MinHeap()).push(index * groups + g);
      } else {
        next[g]!++;
        if (next[g]! < end[g]!) queue.push(members[next[g]!]! * groups + g);
        place(index);
        placed = true;
      }
      if (q === POOL || !full(q)) announce(q);
    }
    if (!placed) break;
  }
  return { order, dropped: wanted - order.length };
}

function checkRule(rule: DiversityRule): void {
  for (const field of ['window', 'maxPerCommunity', 'maxPerDomain'] as const) {
    const v = rule[field];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`diversity rule: ${field} must be an integer >= 1, got ${v}`);
    }
  }
}

/** A binary min-heap of numbers. */
class MinHeap {
  constructor(
    /** Must already be heap-ordered (a sorted array is). */
    private readonly a: number[] = [],
  ) {}

  get size(): number {
    return this.a.length;
  }

  peek(): number {
    return this.a[0]!;
  }

  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent]!;
      if (p <= v) break;
      a[i] = p;
      i = parent;
    }
    a[i] = v;
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    const n = a.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && a[child + 1]! < a[child]!) child++;
      if (a[child]! >= last) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Diversity as a feed's selector: shapes the feed's own ranking (its default ranker or an experiment's). A ranker the
 * request named explicitly, or an interleaving, is served in its own order, so an MLE comparing rankers sees exactly
 * what each one does.
 */
export const diversitySelector: Selector<DiversityRule> = {
  name: 'diversity',
  check(rule) {
    if (!rule) return 'needs options { window, maxPerCommunity, maxPerDomain }';
    try {
      checkRule(rule);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  },
  select(list, selection, ctx, rule) {
    if (ctx.plan.kind !== 'single' || ctx.plan.explicit) return selection;
    const kept = selection.order;
    const { order, dropped } = diversifyBy(
      kept.length,
      (j) => list.communities[kept[j]!]!,
      (j) => list.domains[kept[j]!] ?? null,
      rule,
      ctx.maxItems,
    );
    return { ...selection, order: order.map((o) => kept[o]!), scores: 'capped', dropped: { ...selection.dropped, diversity: dropped } };
  },
};
