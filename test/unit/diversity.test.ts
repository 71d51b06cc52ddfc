import { diversify, type DiversityItem, type DiversityRule } from '../../src/selectors/diversity';

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const intBelow = (rand: () => number, n: number) => Math.floor(rand() * n);

const item = (community: string, domain: string | null = null): DiversityItem => ({ community, domain });
/** `spec` like "AAB" gives communities A, A, B with no domain. */
const communities = (spec: string) => [...spec].map((c) => item(c));
const rule = (window: number, maxPerCommunity: number, maxPerDomain = window): DiversityRule => ({ window, maxPerCommunity, maxPerDomain });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Would `candidate` fit after `placed`: the window it closes is the last W - 1 placed items plus itself. */
function fits(items: readonly DiversityItem[], r: DiversityRule, placed: readonly number[], candidate: number): boolean {
  const run = [...placed.slice(Math.max(0, placed.length - (r.window - 1))), candidate].map((i) => items[i]!);
  const me = items[candidate]!;
  if (run.filter((x) => x.community === me.community).length > r.maxPerCommunity) return false;
  return me.domain === null || run.filter((x) => x.domain === me.domain).length <= r.maxPerDomain;
}

/** The greedy rule written as plainly as possible: rescan everything, recount the window. */
function naiveDiversify(items: readonly DiversityItem[], r: DiversityRule, limit: number): number[] {
  const order: number[] = [];
  const used = new Set<number>();
  while (order.length < Math.min(items.length, limit)) {
    const pick = items.findIndex((_, i) => !used.has(i) && fits(items, r, order, i));
    if (pick < 0) break;
    order.push(pick);
    used.add(pick);
  }
  return order;
}

/** Every run of W consecutive output items (the whole list when it is shorter) obeys both caps. */
function assertWindows(items: readonly DiversityItem[], r: DiversityRule, order: readonly number[]): void {
  const w = Math.min(r.window, order.length);
  for (let s = 0; s + w <= order.length && w > 0; s++) {
    const perCommunity = new Map<string, number>();
    const perDomain = new Map<string, number>();
    for (const i of order.slice(s, s + w)) {
      const { community, domain } = items[i]!;
      perCommunity.set(community, (perCommunity.get(community) ?? 0) + 1);
      if (domain !== null) perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
    }
    for (const [k, v] of perCommunity) if (v > r.maxPerCommunity) throw new Error(`window at ${s}: ${v} of community ${k}`);
    for (const [k, v] of perDomain) if (v > r.maxPerDomain) throw new Error(`window at ${s}: ${v} of domain ${k}`);
  }
}

/** Everything the contract promises about one output, checked by brute force. */
function assertContract(items: readonly DiversityItem[], r: DiversityRule, limit: number, out: { order: number[]; dropped: number }): void {
  const { order, dropped } = out;
  // Plain throws rather than expect(): this runs thousands of times.
  const fail = (what: string): never => {
    throw new Error(`${what}; order ${JSON.stringify(order)}, dropped ${dropped}`);
  };
  const wanted = Math.min(items.length, limit);
  if (dropped + order.length !== wanted || dropped < 0) fail(`accounting: expected ${wanted} = order + dropped`);
  if (new Set(order).size !== order.length) fail('an index appears twice');
  if (order.some((i) => !Number.isInteger(i) || i < 0 || i >= items.length)) fail('an index out of range');
  assertWindows(items, r, order);
  if (wanted > 0 && order[0] !== 0) fail('the best item is not first');
  // Best first: at each position, every better-ranked item still unplaced would have broken the rule there.
  const used = new Set<number>();
  order.forEach((chosen, p) => {
    const placed = order.slice(0, p);
    for (let j = 0; j < chosen; j++) {
      if (!used.has(j) && fits(items, r, placed, j)) fail(`position ${p}: took ${chosen} though ${j} fit`);
    }
    used.add(chosen);
  });
  // The list only ends early when nothing left fits.
  if (dropped > 0) {
    for (let j = 0; j < items.length; j++) {
      if (!used.has(j) && fits(items, r, order, j)) fail(`stopped at ${order.length} though ${j} fit`);
    }
  }
  // Alike items (same community and domain) keep their input order.
  const lastOfKind = new Map<string, number>();
  for (const i of order) {
    const kind = JSON.stringify([items[i]!.community, items[i]!.domain]);
    if (i < (lastOfKind.get(kind) ?? -1)) fail(`alike items out of input order at ${i}`);
    lastOfKind.set(kind, i);
  }
}

describe('diversify: worked examples', () => {
  test('all one community: the list stops after maxPerCommunity items', () => {
    const items = communities('A'.repeat(20));
    expect(diversify(items, rule(5, 2), Infinity)).toEqual({ order: [0, 1], dropped: 18 });
    expect(diversify(items, rule(3, 1), Infinity)).toEqual({ order: [0], dropped: 19 });
    // `dropped` is the shortfall against the page that was asked for, not the count of leftovers.
    expect(diversify(items, rule(5, 2), 10)).toEqual({ order: [0, 1], dropped: 8 });
    expect(diversify(items, rule(5, 2), 2)).toEqual({ order: [0, 1], dropped: 0 });
    expect(diversify(items, rule(5, 2), 1)).toEqual({ order: [0], dropped: 0 });
  });

  test('two communities already alternating are left alone', () => {
    const items = communities('ABABABAB');
    expect(diversify(items, rule(2, 1), Infinity)).toEqual({ order: range(8), dropped: 0 });
  });

  test('two clumped communities are interleaved, best of each first', () => {
    expect(diversify(communities('AAAABBBB'), rule(2, 1), Infinity)).toEqual({ order: [0, 4, 1, 5, 2, 6, 3, 7], dropped: 0 });
    // One A too many: it cannot follow another A, so the list ends and it is counted.
    expect(diversify(communities('AAAAABBB'), rule(2, 1), Infinity)).toEqual({ order: [0, 5, 1, 6, 2, 7, 3], dropped: 1 });
    // Two of a community per three: A A B A A B ..., then the Bs run out of company.
    expect(diversify(communities('AAAAAABBBBBB'), rule(3, 2), Infinity)).toEqual({
      order: [0, 1, 6, 2, 3, 7, 4, 5, 8, 9],
      dropped: 2,
    });
  });

  test('one dominant domain across many communities is spread to one per window', () => {
    // 20 posts of yt.com (each in its own community) ranked above 10 posts of 10 other domains.
    const items = [...range(20).map((i) => item(`c${i}`, 'yt.com')), ...range(10).map((i) => item(`o${i}`, `d${i}.org`))];
    const out = diversify(items, rule(4, 1, 1), Infinity);
    expect(out).toEqual({ order: [0, 20, 21, 22, 1, 23, 24, 25, 2, 26, 27, 28, 3, 29], dropped: 16 });
    assertContract(items, rule(4, 1, 1), Infinity, out);
  });

  test('a null domain is counted against no domain, not even against the string "null"', () => {
    const nulls = range(6).map((i) => item(`c${i}`, null));
    expect(diversify(nulls, rule(3, 1, 1), Infinity)).toEqual({ order: range(6), dropped: 0 });
    const mixed = [item('a', 'null'), item('b', null), item('c', 'null'), item('d', null)];
    expect(diversify(mixed, rule(2, 1, 1), Infinity)).toEqual({ order: [0, 1, 2, 3], dropped: 0 });
    // The community cap still applies to items without a domain.
    expect(diversify(communities('AAB'), rule(2, 1, 1), Infinity)).toEqual({ order: [0, 2, 1], dropped: 0 });
  });

  test('community and domain caps interact: an item must pass both', () => {
    const items = [item('A', 'x'), item('A', 'y'), item('B', 'x'), item('C', 'z'), item('B', 'y')];
    // After A/x: A/y fails on A, B/x fails on x, C/z fits; then A/y, then B/x; B/y cannot follow a B, so it ends.
    const out = diversify(items, rule(2, 1, 1), Infinity);
    expect(out).toEqual({ order: [0, 3, 1, 2], dropped: 1 });
    assertContract(items, rule(2, 1, 1), Infinity, out);
  });

  test('window 1 constrains nothing: the input order is kept', () => {
    const items = [...communities('AAAA'), item('B', 'x'), item('B', 'x')];
    expect(diversify(items, rule(1, 1, 1), Infinity)).toEqual({ order: range(6), dropped: 0 });
  });

  test('a rule that cannot bind (both caps >= window) keeps the input order', () => {
    const rand = prng(7);
    for (let t = 0; t < 200; t++) {
      const n = intBelow(rand, 40);
      const items = range(n).map(() => item(`c${intBelow(rand, 2)}`, rand() < 0.3 ? null : `d${intBelow(rand, 2)}`));
      const w = 1 + intBelow(rand, 6);
      const r = rule(w, w + intBelow(rand, 3), w + intBelow(rand, 3));
      expect(diversify(items, r, Infinity)).toEqual({ order: range(n), dropped: 0 });
    }
  });

  test('huge caps and windows (beyond 32 bits) are accepted and behave', () => {
    const items = communities('AAAB');
    expect(diversify(items, rule(2 ** 40, 2 ** 31, 2 ** 33), Infinity)).toEqual({ order: range(4), dropped: 0 });
    expect(diversify(items, rule(2 ** 40, 2, 1), Infinity)).toEqual({ order: [0, 1, 3], dropped: 1 });
  });

  test('ties: alike items keep their input order, and the better-ranked of two that fit wins', () => {
    const items = communities('AAABBBCCC');
    expect(diversify(items, rule(3, 1), Infinity)).toEqual({ order: [0, 3, 6, 1, 4, 7, 2, 5, 8], dropped: 0 });
    const same = range(8).map(() => item('A', 'x'));
    expect(diversify(same, rule(4, 2, 3), Infinity)).toEqual({ order: [0, 1], dropped: 6 });
    expect(diversify(same, rule(3, 3, 3), Infinity)).toEqual({ order: range(8), dropped: 0 });
  });

  test('limit cuts the list; nothing is dropped when it is full', () => {
    expect(diversify(communities('AAAABBBB'), rule(2, 1), 3)).toEqual({ order: [0, 4, 1], dropped: 0 });
    expect(diversify(communities('AAAABBBB'), rule(2, 1), 0)).toEqual({ order: [], dropped: 0 });
    expect(diversify([], rule(2, 1), 10)).toEqual({ order: [], dropped: 0 });
  });

  test('the input is not modified', () => {
    const items = Object.freeze(communities('AAAB').map((x) => Object.freeze(x)));
    expect(diversify(items, rule(2, 1), Infinity).order).toEqual([0, 3, 1]);
  });
});

describe('diversify: validation', () => {
  test.each([
    ['window', 0],
    ['window', -1],
    ['window', 1.5],
    ['window', NaN],
    ['window', Infinity],
    ['maxPerCommunity', 0],
    ['maxPerCommunity', 2.5],
    ['maxPerDomain', 0],
    ['maxPerDomain', NaN],
  ] as const)('refuses %s = %p, naming the field', (field, value) => {
    const bad = { ...rule(3, 1, 1), [field]: value };
    expect(() => diversify(communities('AB'), bad, 10)).toThrow(RangeError);
    expect(() => diversify(communities('AB'), bad, 10)).toThrow(new RegExp(`${field} must be an integer >= 1, got ${value}`));
  });

  test('refuses a rule even when there is nothing to re-rank', () => {
    expect(() => diversify([], rule(0, 1, 1), 10)).toThrow(/window/);
  });

  test.each([-1, 1.5, NaN, -Infinity])('refuses limit %p', (limit) => {
    expect(() => diversify(communities('AB'), rule(3, 1, 1), limit)).toThrow(/limit must be a non-negative integer or Infinity/);
  });
});

describe('diversify: properties on random lists', () => {
  /** Few communities and domains, skewed, so caps bind often; some null domains; all kinds of rules and limits. */
  function randomCase(seed: number) {
    const rand = prng(seed);
    const n = intBelow(rand, 60);
    const communityCount = 1 + intBelow(rand, 6);
    const domainCount = 1 + intBelow(rand, 6);
    const nullShare = rand() < 0.3 ? 0 : rand() * 0.6;
    const clumped = rand() < 0.3;
    const skewed = (k: number) => Math.min(k - 1, Math.floor(k * rand() * rand()));
    let items = range(n).map(() => item(`c${skewed(communityCount)}`, rand() < nullShare ? null : `d${skewed(domainCount)}`));
    // Clumps (all of one community, then the next) are the adversarial shape for a greedy re-ranker.
    if (clumped) items = [...items].sort((a, b) => a.community.localeCompare(b.community));
    const window = 1 + intBelow(rand, 8);
    const r = rule(window, 1 + intBelow(rand, Math.min(window, 4) + 1), 1 + intBelow(rand, Math.min(window, 4) + 1));
    const limitRoll = rand();
    const limit = limitRoll < 0.5 ? Infinity : limitRoll < 0.6 ? 0 : intBelow(rand, n + 5);
    return { items, r, limit };
  }

  test('3000 random lists: the contract holds and the result equals the plain greedy', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const { items, r, limit } = randomCase(seed);
      const out = diversify(items, r, limit);
      try {
        assertContract(items, r, limit, out);
        const expected = naiveDiversify(items, r, limit);
        if (JSON.stringify(out.order) !== JSON.stringify(expected)) throw new Error(`plain greedy gives ${JSON.stringify(expected)}`);
      } catch (err) {
        throw new Error(`seed ${seed} (rule ${JSON.stringify(r)}, limit ${limit}): ${(err as Error).message}`);
      }
    }
  });

  test('adversarial pairs: two communities x two domains in long runs, caps filling alternately', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const rand = prng(10_000 + seed);
      const items: DiversityItem[] = [];
      while (items.length < 80) {
        const run = 1 + intBelow(rand, 12);
        const kind = item(rand() < 0.5 ? 'A' : 'B', rand() < 0.15 ? null : rand() < 0.5 ? 'x' : 'y');
        for (let k = 0; k < run; k++) items.push(kind);
        if (rand() < 0.2) items.push(item(`solo${items.length}`, `solo${items.length}`));
      }
      const window = 2 + intBelow(rand, 5);
      const r = rule(window, 1 + intBelow(rand, window - 1), 1 + intBelow(rand, window - 1));
      const out = diversify(items, r, Infinity);
      try {
        assertContract(items, r, Infinity, out);
        const expected = naiveDiversify(items, r, Infinity);
        if (JSON.stringify(out.order) !== JSON.stringify(expected)) throw new Error(`plain greedy gives ${JSON.stringify(expected)}`);
      } catch (err) {
        throw new Error(`seed ${seed} (rule ${JSON.stringify(r)}): ${(err as Error).message}`);
      }
    }
  });
});

describe('diversify: large input', () => {
  test('10,000 items with a dominant community and domain: the windows hold and the greedy is exact', () => {
    const rand = prng(2024);
    const items = range(10_000).map(() => {
      const community = rand() < 0.4 ? 'pics' : `c${intBelow(rand, 300)}`;
      const domain = rand() < 0.2 ? null : rand() < 0.5 ? 'i.redd.it' : `d${intBelow(rand, 500)}.com`;
      return item(community, domain);
    });
    const r = rule(50, 3, 4);
    const out = diversify(items, r, Infinity);
    expect(out.order.length + out.dropped).toBe(items.length);
    expect(new Set(out.order).size).toBe(out.order.length);
    assertWindows(items, r, out.order);
    expect(out.order).toEqual(scanningGreedy(items, r));
    // The feed's own rule (config DIVERSITY) with a page-sized limit.
    const feedRule = rule(10, 3, 4);
    const page = diversify(items, feedRule, 500);
    expect(page.order.length + page.dropped).toBe(500);
    assertWindows(items, feedRule, page.order);
    expect(page.order).toEqual(scanningGreedy(items, feedRule).slice(0, 500));
  });
});

/**
 * The same greedy as `naiveDiversify` with incremental window counts and a rescan from the first unplaced item:
 * independent of the heaps in `diversify`, and fast enough to be the oracle for 10,000 items.
 */
function scanningGreedy(items: readonly DiversityItem[], r: DiversityRule): number[] {
  const order: number[] = [];
  const used = new Uint8Array(items.length);
  const perCommunity = new Map<string, number>();
  const perDomain = new Map<string, number>();
  const add = (i: number, by: number) => {
    const { community, domain } = items[i]!;
    perCommunity.set(community, (perCommunity.get(community) ?? 0) + by);
    if (domain !== null) perDomain.set(domain, (perDomain.get(domain) ?? 0) + by);
  };
  let first = 0;
  for (;;) {
    while (first < items.length && used[first]) first++;
    let pick = -1;
    for (let i = first; i < items.length && pick < 0; i++) {
      if (used[i]) continue;
      const { community, domain } = items[i]!;
      const fitsCommunity = (perCommunity.get(community) ?? 0) < r.maxPerCommunity;
      if (fitsCommunity && (domain === null || (perDomain.get(domain) ?? 0) < r.maxPerDomain)) pick = i;
    }
    if (pick < 0) return order;
    used[pick] = 1;
    order.push(pick);
    add(pick, 1);
    if (order.length >= r.window) add(order[order.length - r.window]!, -1);
  }
}
