import { Packr } from 'msgpackr';
import { ScoreCache, type ScoredList } from '../../src/cache/scores';
import { SnapshotCache, type Snapshot } from '../../src/cache/snapshots';
import { EmbeddedStore } from '../../src/store/embedded';

const list = (over: Partial<ScoredList> = {}): ScoredList => ({
  createdAt: 1_700_000_000_000,
  servedBy: 'lambdamart',
  servedByVersion: 'abc123',
  fallbackFrom: null,
  fallbackReason: null,
  ids: ['a1', 'b2', 'c3', 'd4'],
  // Values a float32 margin, a float64 score, an integer and the lowest double can take: all kept exactly.
  scores: [Math.fround(0.1234567), 1 / 3, 42, -Number.MAX_VALUE],
  teams: null,
  communities: ['pics', 'pics', 'funny', 'AskReddit'],
  domains: ['i.imgur.com', null, 'self.funny', null],
  degraded: [{ source: 'popular', reason: 'missed its deadline of 800 ms' }],
  funnel: { retrieved: { subscriptions: 3, popular: 2 }, unique: 4, filtered: { nsfw: 1 }, scored: 4 },
  interleave: null,
  ...over,
});

describe('scored list cache', () => {
  test('a list reads back exactly as it was written', async () => {
    const cache = new ScoreCache(new EmbeddedStore());
    for (const l of [list(), list({ ids: [], scores: [], communities: [], domains: [] }), list({ interleave: { a: 'hot', b: 'top', orderB: [2, 0, 3, 1] } })]) {
      await cache.put('k', l, 60);
      expect(await cache.get('k')).toEqual(l);
    }
    expect(await cache.get('absent')).toBeNull();
  });

  test('a list whose strings cannot be joined is stored as it is, and reads back the same', async () => {
    const cache = new ScoreCache(new EmbeddedStore());
    const odd = list({ domains: ['line\nfeed', null, '\u0000', 'x'] });
    await cache.put('k', odd, 60);
    expect(await cache.get('k')).toEqual(odd);
  });

  test('communities and domains repeat as codes: a list of 70,000 items (wider codes) reads back exactly', async () => {
    const cache = new ScoreCache(new EmbeddedStore());
    const n = 70_000;
    const big = list({
      ids: Array.from({ length: n }, (_, i) => `p${i}`),
      scores: Array.from({ length: n }, (_, i) => n - i),
      communities: Array.from({ length: n }, (_, i) => `c${i % 70_000}`),
      domains: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : `d${i % 5}.com`)),
    });
    await cache.put('big', big, 60);
    expect(await cache.get('big')).toEqual(big);
  });

  test('an entry whose codes do not fit its names reads as a miss, not as wrong communities', async () => {
    const store = new EmbeddedStore();
    const cache = new ScoreCache(store);
    const packr = new Packr({ useRecords: false });
    await cache.put('k', list(), 60);
    const stored = packr.unpack((await store.getSnapshot('scores:k'))!) as unknown[];
    expect(stored[0]).toBe(3);
    stored[4] = ['pics']; // fewer community names than the codes number
    await store.putSnapshot('scores:k', packr.pack(stored), 60);
    expect(await cache.get('k')).toBeNull();
  });

  test('entries of the earlier plain format still read; unknown formats read as misses', async () => {
    const store = new EmbeddedStore();
    const cache = new ScoreCache(store);
    const packr = new Packr({ useRecords: false });
    await store.putSnapshot('scores:old', packr.pack([1, list()]), 60);
    expect(await cache.get('old')).toEqual(list());
    await store.putSnapshot('scores:future', packr.pack([99, list()]), 60);
    expect(await cache.get('future')).toBeNull();
  });
});

describe('page snapshot cache', () => {
  const snapshot = (over: Partial<Snapshot> = {}): Snapshot => ({
    generation: 'g1',
    createdAt: 1_700_000_000_000,
    servedBy: 'lambdamart',
    servedByVersion: 'abc123',
    fallbackFrom: null,
    fallbackReason: null,
    ids: ['a1', 'b2', 'c3'],
    scores: [Math.fround(0.1234567), 1 / 3, -Number.MAX_VALUE],
    teams: null,
    degraded: [],
    funnel: { scored: 3 },
    ...over,
  });

  test('a snapshot reads back exactly, with joinable ids, ids that cannot be joined, none, and teams', async () => {
    const cache = new SnapshotCache(new EmbeddedStore(), 60);
    const cases = [
      snapshot(),
      snapshot({ ids: ['a\nb', 'c', 'd'] }),
      snapshot({ ids: [], scores: [] }),
      snapshot({ teams: ['hot', 'top', 'hot'], fallbackFrom: 'x', fallbackReason: 'timed out' }),
    ];
    for (const s of cases) {
      await cache.put('k', s);
      expect(await cache.get('k')).toEqual(s);
    }
    expect(await cache.get('absent')).toBeNull();
  });

  test('an entry of an earlier format reads as a miss, not as a misread page', async () => {
    const store = new EmbeddedStore();
    const cache = new SnapshotCache(store, 60);
    const s = snapshot();
    const format3 = [3, s.generation, s.createdAt, s.servedBy, s.servedByVersion, s.fallbackFrom, s.fallbackReason, [...s.ids], [...s.scores], null, [], s.funnel];
    await store.putSnapshot('old', new Packr({ useRecords: false }).pack(format3), 60);
    expect(await cache.get('old')).toBeNull();
  });
});
