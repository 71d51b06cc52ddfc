import type { Corpus, Post } from '../../src/content';
import { loadCorpus } from '../../src/dataset';
import {
  generateSyntheticCorpus,
  SYNTHETIC_FIRST_UTC,
  SYNTHETIC_LAST_UTC,
  syntheticCommunities,
  syntheticDatasetInfo,
  syntheticPosts,
} from '../../src/dataset/synthetic';

const FIRST_2008 = Date.UTC(2008, 0, 1) / 1000;
const END_2013_08_15 = Date.UTC(2013, 7, 16) / 1000 - 1;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function yearOf(p: Post): number {
  return new Date(p.createdUtc * 1000).getUTCFullYear();
}

describe('synthetic corpus: determinism', () => {
  test('the same options give an identical corpus', () => {
    const a = generateSyntheticCorpus({ posts: 3000, communities: 40, seed: 7 });
    const b = generateSyntheticCorpus({ posts: 3000, communities: 40, seed: 7 });
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  test('a different seed gives different posts and a different fingerprint', () => {
    const a = generateSyntheticCorpus({ posts: 3000, seed: 1 });
    const b = generateSyntheticCorpus({ posts: 3000, seed: 2 });
    expect(b.info.fingerprint).not.toBe(a.info.fingerprint);
    expect(b.posts.map((p) => p.title)).not.toEqual(a.posts.map((p) => p.title));
    expect(b.posts.map((p) => p.score)).not.toEqual(a.posts.map((p) => p.score));
  });

  test('the fingerprint depends on every option and on nothing else', () => {
    const fp = (o: { posts?: number; communities?: number; seed?: number }) => syntheticDatasetInfo(o).fingerprint;
    expect(fp({})).toBe(fp({ posts: 20_000, communities: 100, seed: 1 }));
    expect(fp({})).toMatch(/^[0-9a-f]{16}$/);
    const all = new Set([fp({}), fp({ posts: 20_001 }), fp({ communities: 99 }), fp({ seed: 2 })]);
    expect(all.size).toBe(4);
  });

  test('the streaming form yields exactly the posts of the corpus, in order', () => {
    const opts = { posts: 2500, communities: 30, seed: 3 };
    const corpus = generateSyntheticCorpus(opts);
    expect(Array.from(syntheticPosts(opts))).toEqual(corpus.posts);
    expect(syntheticCommunities(opts)).toEqual(corpus.communities);
    expect(syntheticDatasetInfo(opts)).toEqual(corpus.info);
  });
});

describe('synthetic corpus: default shape (20,000 posts, 100 communities, seed 1)', () => {
  let corpus: Corpus;
  let elapsedMs: number;
  beforeAll(() => {
    const start = performance.now();
    corpus = generateSyntheticCorpus();
    elapsedMs = performance.now() - start;
  });

  test('info describes the generator and its options', () => {
    expect(corpus.info).toEqual({
      source: 'synthetic',
      description: 'synthetic corpus (seed 1, 20000 posts, 100 communities)',
      posts: 20_000,
      communities: 100,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(corpus.posts).toHaveLength(20_000);
    expect(corpus.communities).toHaveLength(100);
  });

  test('is generated well under a second', () => {
    // Generous bound so a slow CI machine does not flake: it catches a generator that became far slower, not a
    // slow machine.
    expect(elapsedMs).toBeLessThan(1500);
  });

  test('post ids are unique base-36 strings', () => {
    const ids = new Set(corpus.posts.map((p) => p.id));
    expect(ids.size).toBe(corpus.posts.length);
    expect([...ids].filter((id) => !/^[0-9a-z]{5,8}$/.test(id))).toEqual([]);
  });

  test('votes are consistent: ups - downs = score, all counts non-negative integers', () => {
    // Violations are collected and compared once: 20,000 separate expect() calls would dominate the run time.
    const bad = corpus.posts.filter(
      (p) =>
        p.ups - p.downs !== p.score ||
        ![p.score, p.ups, p.downs, p.numComments].every((n) => Number.isInteger(n) && n >= 0),
    );
    expect(bad).toEqual([]);
    // Downs are a plausible fraction of the votes, not zero and not most of them for a typical post.
    const ratios = corpus.posts.map((p) => p.downs / p.ups).sort((a, b) => a - b);
    expect(quantile(ratios, 0.5)).toBeGreaterThan(0.1);
    expect(quantile(ratios, 0.5)).toBeLessThan(0.6);
  });

  test('createdUtc is an integer between 2008-01-01 and 2013-08-15, with more posts in later years', () => {
    expect(SYNTHETIC_FIRST_UTC).toBe(FIRST_2008);
    expect(SYNTHETIC_LAST_UTC).toBe(END_2013_08_15);
    const perYear = new Map<number, number>();
    const outside = corpus.posts.filter(
      (p) => !Number.isInteger(p.createdUtc) || p.createdUtc < FIRST_2008 || p.createdUtc > END_2013_08_15,
    );
    expect(outside).toEqual([]);
    for (const p of corpus.posts) perYear.set(yearOf(p), (perYear.get(yearOf(p)) ?? 0) + 1);
    const y = (year: number) => perYear.get(year) ?? 0;
    expect(y(2008)).toBeGreaterThan(0);
    expect(y(2008)).toBeLessThan(y(2010));
    expect(y(2010)).toBeLessThan(y(2012));
    expect(y(2012) + y(2013)).toBeGreaterThan(corpus.posts.length / 2);
  });

  test('communities: subreddit-like unique names, pics and funny among the largest', () => {
    const names = corpus.communities.map((c) => c.name);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_]{2,21}$/);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    expect([...names].sort()).toEqual(names); // sorted by name, as the Reddit loader does
    const bySize = [...corpus.communities].sort((a, b) => (b.subscribers ?? 0) - (a.subscribers ?? 0));
    const top5 = bySize.slice(0, 5).map((c) => c.name);
    expect(top5).toContain('pics');
    expect(top5).toContain('funny');
  });

  test('subscriber counts follow a power law from tens of millions to tens of thousands', () => {
    const subs = corpus.communities.map((c) => c.subscribers as number).sort((a, b) => b - a);
    for (const s of subs) expect(Number.isInteger(s)).toBe(true);
    const largest = subs[0] as number;
    const smallest = subs[subs.length - 1] as number;
    expect(largest).toBeGreaterThanOrEqual(10_000_000);
    expect(smallest).toBeGreaterThanOrEqual(10_000);
    expect(smallest).toBeLessThan(100_000);
    expect(largest).toBeGreaterThan(20 * quantile([...subs].reverse(), 0.5));
  });

  test('communities differ a lot in size, each with a few posts, and postCount matches the posts', () => {
    const counts = new Map<string, number>();
    for (const p of corpus.posts) counts.set(p.community, (counts.get(p.community) ?? 0) + 1);
    for (const c of corpus.communities) expect(c.postCount).toBe(counts.get(c.name) ?? 0);
    expect(counts.size).toBe(corpus.communities.length); // every post's community exists, every community has posts
    const sizes = corpus.communities.map((c) => c.postCount);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBeGreaterThan(10 * Math.min(...sizes));
  });

  test('scores are heavy-tailed: mostly hundreds to low thousands, a tail past 20,000', () => {
    const scores = corpus.posts.map((p) => p.score).sort((a, b) => a - b);
    const p50 = quantile(scores, 0.5);
    expect(p50).toBeGreaterThanOrEqual(100);
    expect(p50).toBeLessThan(3000);
    expect(quantile(scores, 0.99) / p50).toBeGreaterThan(10);
    expect(scores[scores.length - 1]).toBeGreaterThan(20_000);
  });

  test('comment counts grow with score and have a heavy tail', () => {
    const byScore = [...corpus.posts].sort((a, b) => a.score - b.score);
    const tenth = Math.floor(byScore.length / 10);
    const mean = (ps: readonly Post[]) => ps.reduce((s, p) => s + p.numComments, 0) / ps.length;
    expect(mean(byScore.slice(-tenth))).toBeGreaterThan(5 * mean(byScore.slice(0, tenth)));
    const comments = corpus.posts.map((p) => p.numComments).sort((a, b) => a - b);
    expect(quantile(comments, 0.99)).toBeGreaterThan(10 * quantile(comments, 0.5));
  });

  test('titles have 5 to 15 words from a shared vocabulary', () => {
    const df = new Map<string, number>();
    const lengths = new Set<number>();
    for (const p of corpus.posts) {
      const words = p.title.split(' ');
      lengths.add(words.length);
      for (const w of new Set(words.map((x) => x.toLowerCase().replace(/[.?!]$/, '')))) df.set(w, (df.get(w) ?? 0) + 1);
    }
    expect(Math.min(...lengths)).toBe(5);
    expect(Math.max(...lengths)).toBe(15);
    // Titles overlap: some words occur in a large share of titles, and the vocabulary is small.
    expect(Math.max(...df.values())).toBeGreaterThan(corpus.posts.length * 0.2);
    expect(df.size).toBeLessThan(1000);
    expect(new Set(corpus.posts.map((p) => p.title)).size).toBeGreaterThan(corpus.posts.length * 0.95);
  });

  test('self posts point at their permalink; links carry a plausible domain and url', () => {
    let self = 0;
    const domains = new Set<string>();
    const bad: Post[] = [];
    for (const p of corpus.posts) {
      const permalinkOk = p.permalink === `http://www.reddit.com/r/${p.community}/comments/${p.id}/${p.permalink?.split('/')[7]}/` &&
        /^[a-z0-9_]{1,50}$/.test(p.permalink.split('/')[7] ?? '');
      let ok: boolean;
      if (p.isSelf) {
        self++;
        ok = p.domain === `self.${p.community}` && p.url === p.permalink;
      } else {
        const host = p.domain === 'reddit.com' ? 'www.reddit.com' : (p.domain as string);
        ok = !/^self\./.test(p.domain ?? '') && /^https?:\/\//.test(p.url ?? '') && (p.url ?? '').includes(host);
        domains.add(p.domain as string);
      }
      if (!ok || !permalinkOk) bad.push(p);
    }
    expect(bad).toEqual([]);
    expect(self).toBeGreaterThan(corpus.posts.length * 0.05);
    expect(self).toBeLessThan(corpus.posts.length * 0.5);
    for (const d of ['i.imgur.com', 'imgur.com', 'youtube.com', 'en.wikipedia.org']) expect(domains).toContain(d);
  });

  test('a few communities are NSFW (most of their posts over18); elsewhere over18 is rare', () => {
    const perCommunity = new Map<string, [number, number]>();
    for (const p of corpus.posts) {
      const e = perCommunity.get(p.community) ?? [0, 0];
      e[0] += p.over18 ? 1 : 0;
      e[1]++;
      perCommunity.set(p.community, e);
    }
    const nsfw = [...perCommunity].filter(([, [o, n]]) => o / n > 0.5).map(([c]) => c);
    expect(nsfw.length).toBeGreaterThanOrEqual(1);
    expect(nsfw.length).toBeLessThanOrEqual(10);
    const total = corpus.posts.filter((p) => p.over18).length;
    expect(total / corpus.posts.length).toBeLessThan(0.1);
  });
});

describe('synthetic corpus: other sizes and options', () => {
  test('many communities: names stay valid and unique', () => {
    const c = generateSyntheticCorpus({ posts: 5000, communities: 1500, seed: 4 });
    const names = c.communities.map((x) => x.name);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_]{2,21}$/);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(1500);
    expect(c.communities.reduce((s, x) => s + x.postCount, 0)).toBe(5000);
    expect(new Set(c.posts.map((p) => p.id)).size).toBe(5000);
  });

  test('fewer posts than communities: counts still add up', () => {
    const c = generateSyntheticCorpus({ posts: 10, communities: 20 });
    expect(c.posts).toHaveLength(10);
    expect(c.communities.reduce((s, x) => s + x.postCount, 0)).toBe(10);
    expect(generateSyntheticCorpus({ posts: 0, communities: 3 }).posts).toHaveLength(0);
  });

  test('invalid options are rejected', () => {
    expect(() => generateSyntheticCorpus({ posts: -1 })).toThrow(RangeError);
    expect(() => generateSyntheticCorpus({ posts: 1.5 })).toThrow(RangeError);
    expect(() => generateSyntheticCorpus({ communities: 0 })).toThrow(RangeError);
    expect(() => generateSyntheticCorpus({ seed: Number.NaN })).toThrow(RangeError);
  });

  test('loadCorpus without a dataset folder returns the synthetic corpus', async () => {
    const { corpus, warnings } = await loadCorpus({ datasetDir: null, syntheticPosts: 1234, syntheticSeed: 9 });
    expect(warnings).toEqual([]);
    expect(corpus.info.source).toBe('synthetic');
    const expected = generateSyntheticCorpus({ posts: 1234, seed: 9 });
    expect(corpus.info).toEqual(expected.info);
    expect(JSON.stringify(corpus.posts)).toBe(JSON.stringify(expected.posts));
    const defaults = await loadCorpus({});
    expect(defaults.corpus.info.description).toBe('synthetic corpus (seed 1, 20000 posts, 100 communities)');
  });
});
