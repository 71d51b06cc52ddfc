import path from 'node:path';
import { repoRoot } from '../../src/config';
import { HOT_EPOCH, hotScore } from '../../src/features/registry';
import type { FeatureBatch, Ranker } from '../../src/rankers/ranker';
import { createRankers, loadRankerFile, type RankerRegistry } from '../../src/rankers/registry';

let registry: RankerRegistry;
beforeAll(async () => {
  registry = await loadRankerFile(path.join(repoRoot, 'models', 'rankers.json'));
});

/** A deterministic batch for a ranker's declared features: values vary per row and column, some missing. */
function batchFor(r: Ranker, rows: number): FeatureBatch {
  const values = new Float64Array(rows * r.features.length);
  for (let i = 0; i < values.length; i++) values[i] = i % 7 === 3 ? NaN : Math.sin(i * 12.9898) * 1000;
  return { features: r.features, rows, values };
}

/** The same rows in another order: row i of the result is row perm[i] of the input. */
function permute(b: FeatureBatch, perm: number[]): FeatureBatch {
  const w = b.features.length;
  const values = new Float64Array(b.values.length);
  perm.forEach((src, dst) => values.set(b.values.subarray(src * w, src * w + w), dst * w));
  return { ...b, values };
}

describe('Ranker contract (every configured ranker)', () => {
  test.each(['lambdamart', 'personalized', 'hot', 'new', 'top'])('%s: one finite score per row, same order as the rows', async (id) => {
    const ranker = registry.get(id)!;
    const batch = batchFor(ranker, 50);
    const scores = await ranker.score(batch);
    expect(scores).toHaveLength(50);
    for (const s of scores) expect(Number.isFinite(s)).toBe(true);

    const perm = Array.from({ length: 50 }, (_, i) => (i * 17 + 5) % 50); // 17 is coprime with 50: a permutation
    const shuffled = await ranker.score(permute(batch, perm));
    expect(Array.from(shuffled)).toEqual(perm.map((src) => scores[src]));
  });

  test('scoring does not modify the batch', async () => {
    for (const r of registry.list().map((v) => v.ranker!)) {
      const batch = batchFor(r, 10);
      const before = Float64Array.from(batch.values);
      await r.score(batch);
      expect(Array.from(batch.values)).toEqual(Array.from(before));
    }
  });

  test('an empty batch scores to an empty array', async () => {
    for (const r of registry.list().map((v) => v.ranker!)) expect(await r.score({ features: r.features, rows: 0, values: new Float64Array(0) })).toHaveLength(0);
  });
});

describe('built-in rankers', () => {
  test('hot follows the published formula', () => {
    // 10^3 net votes, one 45,000 s period after the epoch: log10(1000) + 1.
    expect(hotScore(1000, HOT_EPOCH + 45000)).toBeCloseTo(4, 12);
    // Negative scores count against, and |s| < 1 counts as 1 (log 0).
    expect(hotScore(-100, HOT_EPOCH)).toBeCloseTo(-2, 12);
    expect(hotScore(0, HOT_EPOCH + 90000)).toBeCloseTo(2, 12);
    // Twelve and a half hours of recency is worth ten times the votes.
    expect(hotScore(10, HOT_EPOCH + 45000)).toBeCloseTo(hotScore(100, HOT_EPOCH), 12);
  });

  test('new, top and hot read exactly one declared feature', () => {
    expect(registry.get('new')!.features).toEqual(['created_utc']);
    expect(registry.get('top')!.features).toEqual(['post_score']);
    expect(registry.get('hot')!.features).toEqual(['hot']);
  });

  test('personalized adds the affinity boost to hot and treats a missing value as no boost', async () => {
    const r = registry.get('personalized')!;
    const col = (name: string) => r.features.indexOf(name);
    expect(col('hot')).toBeGreaterThanOrEqual(0);
    expect(col('viewer_affinity')).toBeGreaterThanOrEqual(0);
    const row = (hot: number, affinity: number) => {
      const v = new Array(r.features.length).fill(NaN);
      v[col('hot')] = hot;
      v[col('viewer_affinity')] = affinity;
      return v;
    };
    const batch = { features: r.features, rows: 3, values: Float64Array.from([...row(100, 0), ...row(100, 1), ...row(100, NaN)]) };
    const [none, full, signedOut] = await r.score(batch);
    expect(full!).toBeGreaterThan(none!);
    expect(signedOut).toBe(100);
    expect(none).toBe(100);
  });

  test('the configuration lists hot, new, top and a personalized default', () => {
    expect(registry.ids()).toEqual(expect.arrayContaining(['hot', 'new', 'top', 'personalized']));
  });
});

describe('ranker registry', () => {
  const spec = { id: 'x', kind: 'hot', version: '1', description: 'd', params: {} };
  test('refuses an unknown kind, naming the known ones', async () => {
    await expect(createRankers([{ ...spec, kind: 'nope' }])).rejects.toThrow(/unknown kind "nope" \(known: .*hot/);
  });
  test('refuses duplicate ids', async () => {
    await expect(createRankers([spec, spec])).rejects.toThrow(/duplicate ranker id "x"/);
  });
  test('refuses a ranker that needs a feature the registry does not have', async () => {
    await expect(createRankers([{ ...spec, kind: 'linear', params: { weights: { no_such_feature: 1 } } }])).rejects.toThrow(/unknown feature "no_such_feature"/);
  });
  test('refuses bad parameters with the variant id', async () => {
    await expect(createRankers([{ ...spec, kind: 'linear', params: { weights: {} } }])).rejects.toThrow(/ranker "x"/);
  });
  test('a missing or broken configuration file fails with its path', async () => {
    await expect(loadRankerFile('/nonexistent/rankers.json')).rejects.toThrow(/cannot read ranker configuration \/nonexistent\/rankers.json/);
  });
});
