import type { Community } from '../../src/content';
import { deriveViewerProfile, MAX_SUBSCRIPTIONS, MIN_SUBSCRIPTIONS } from '../../src/features/viewers';

// Subscriber counts spread over three orders of magnitude, like the manifest's.
const communities: Community[] = Array.from({ length: 50 }, (_, i) => ({
  name: `c${i}`,
  title: null,
  subscribers: Math.round(5_000_000 / (i + 1) ** 1.5),
  postCount: 100,
}));

describe('viewer profiles derived from the user id', () => {
  test('the same id always gives the same profile', () => {
    expect(deriveViewerProfile('alice', communities)).toEqual(deriveViewerProfile('alice', communities));
  });

  test('different ids give different profiles', () => {
    const subs = new Set(['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => JSON.stringify(deriveViewerProfile(u, communities).subscriptions)));
    expect(subs.size).toBe(5);
  });

  test('any string is a valid viewer', () => {
    for (const id of ['', '*', '{x}', 'line\nbreak', 'é😀', 'x'.repeat(10_000)]) {
      const p = deriveViewerProfile(id, communities);
      expect(p.subscriptions.length).toBeGreaterThanOrEqual(MIN_SUBSCRIPTIONS);
    }
  });

  test('subscription counts, affinities and NSFW preferences stay in range and vary', () => {
    const profiles = Array.from({ length: 1000 }, (_, i) => deriveViewerProfile(`user-${i}`, communities));
    const counts = new Set<number>();
    let nsfw = 0;
    for (const p of profiles) {
      expect(p.subscriptions.length).toBeGreaterThanOrEqual(MIN_SUBSCRIPTIONS);
      expect(p.subscriptions.length).toBeLessThanOrEqual(MAX_SUBSCRIPTIONS);
      expect(new Set(p.subscriptions.map((s) => s.community)).size).toBe(p.subscriptions.length);
      for (const s of p.subscriptions) {
        expect(s.affinity).toBeGreaterThan(0);
        expect(s.affinity).toBeLessThanOrEqual(1);
        expect(p.affinity.get(s.community)).toBe(s.affinity);
      }
      counts.add(p.subscriptions.length);
      if (p.showNsfw) nsfw++;
    }
    expect(counts.size).toBeGreaterThan(10);
    expect(nsfw).toBeGreaterThan(100);
    expect(nsfw).toBeLessThan(350);
  });

  test('large communities are subscribed to far more often than small ones', () => {
    const tally = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      for (const s of deriveViewerProfile(`u${i}`, communities).subscriptions) tally.set(s.community, (tally.get(s.community) ?? 0) + 1);
    }
    expect(tally.get('c0')!).toBeGreaterThan(3 * (tally.get('c49') ?? 0));
  });
});
