import type { Post } from '../../src/content';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { buildFeatureBatch } from '../../src/features/batch';
import { FEATURES, featureDefinition, type FeatureInput } from '../../src/features/registry';
import { postFeatureRow } from '../../src/features/rows';
import { titleTokens } from '../../src/features/title-tokens';
import { deriveViewerProfile } from '../../src/features/viewers';
import { seedEmbeddedStore, seedStore } from '../../src/bootstrap';
import { EmbeddedStore } from '../../src/store/embedded';

const corpus = generateSyntheticCorpus({ posts: 3000, communities: 30, seed: 5 });
const communities = new Map(corpus.communities.map((c) => [c.name, c]));
const viewer = deriveViewerProfile('feature-viewer', corpus.communities);

const post = (over: Partial<Post>): Post => ({
  id: 'x1',
  community: 'pics',
  title: 'TIL a title',
  url: null,
  permalink: null,
  score: 0,
  ups: 0,
  downs: 0,
  numComments: 0,
  createdUtc: 1_300_000_000,
  domain: null,
  over18: false,
  isSelf: false,
  ...over,
});
/** Every value of a batch (row r, column c) that differs from its feature's `compute` on the row's input. */
function differingValues(values: Float64Array, names: readonly string[], inputs: readonly FeatureInput[]): string[] {
  const differing: string[] = [];
  inputs.forEach((input, r) => {
    names.forEach((name, c) => {
      const want = featureDefinition(name)!.compute(input);
      const got = values[r * names.length + c];
      if (!Object.is(got, want)) differing.push(`${input.post.id} ${name}: ${got} != ${want}`);
    });
  });
  return differing;
}

const value = (name: string, input: Partial<FeatureInput> & { post: Post }) =>
  featureDefinition(name)!.compute({ community: null, viewer: null, contextTokens: null, contextCommunity: null, ...input });

describe('feature registry', () => {
  test('has at least 30 uniquely named, documented features', () => {
    expect(FEATURES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(FEATURES.map((f) => f.name)).size).toBe(FEATURES.length);
    for (const f of FEATURES) {
      expect(f.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(f.description.length).toBeGreaterThan(5);
      expect(f.missing.length).toBeGreaterThan(3);
    }
  });

  test.each([
    ['signed in, post context', true, true],
    ['signed out, no context', false, false],
  ])('every feature is a finite number or NaN on every post (%s); booleans are 0 or 1', (_name, signedIn, withContext) => {
    const context = corpus.posts[7]!;
    const inputs: FeatureInput[] = corpus.posts.map((p) => ({
      post: p,
      community: communities.get(p.community) ?? null,
      viewer: signedIn ? viewer : null,
      contextTokens: withContext ? new Set(titleTokens(context.title)) : null,
      contextCommunity: withContext ? context.community : null,
    }));
    const names = FEATURES.map((f) => f.name);
    const batch = buildFeatureBatch(names, inputs);
    FEATURES.forEach((f, c) => {
      for (let r = 0; r < batch.rows; r++) {
        const v = batch.values[r * names.length + c]!;
        expect(Number.isNaN(v) || Number.isFinite(v)).toBe(true);
        if (f.type === 'bool' && !Number.isNaN(v)) expect([0, 1]).toContain(v);
        if (f.type === 'int' && !Number.isNaN(v)) expect(Number.isInteger(v)).toBe(true);
      }
    });
  });

  test('viewer features are missing when signed out, context features when there is no context', () => {
    const p = corpus.posts[0]!;
    for (const name of ['viewer_affinity', 'viewer_subscribed', 'viewer_affinity_rank', 'viewer_subscription_count', 'viewer_shows_nsfw']) {
      expect(value(name, { post: p })).toBeNaN();
    }
    for (const name of ['context_title_similarity', 'context_same_community']) expect(value(name, { post: p })).toBeNaN();
    const top = viewer.subscriptions[0]!;
    expect(value('viewer_affinity_rank', { post: post({ community: top.community }), viewer })).toBe(1);
    expect(value('viewer_subscribed', { post: post({ community: top.community }), viewer })).toBe(1);
    expect(value('viewer_subscribed', { post: post({ community: 'not-subscribed-anywhere' }), viewer })).toBe(0);
  });

  test('values on hand-made posts', () => {
    expect(value('log_score', { post: post({ score: -1000 }) })).toBeCloseTo(-3, 12);
    expect(value('controversy', { post: post({ ups: 300, downs: 100 }) })).toBeCloseTo(1 / 3, 12);
    expect(value('controversy', { post: post({}) })).toBeNaN();
    expect(value('link_is_image', { post: post({ domain: 'i.imgur.com' }) })).toBe(1);
    expect(value('link_is_image', { post: post({ domain: 'example.com', url: 'http://example.com/a.JPG' }) })).toBe(1);
    expect(value('link_is_video', { post: post({ domain: 'youtube.com' }) })).toBe(1);
    expect(value('link_is_video', { post: post({ domain: 'notyoutube.com' }) })).toBe(0);
    expect(value('title_is_til', { post: post({ title: 'TIL that' }) })).toBe(1);
    expect(value('title_is_til', { post: post({ title: 'UNTIL then' }) })).toBe(0);
    expect(value('title_is_oc', { post: post({ title: 'My cat [OC]' }) })).toBe(1);
    expect(value('title_upper_ratio', { post: post({ title: 'ABcd!' }) })).toBe(0.5);
    expect(value('hour_of_day', { post: post({ createdUtc: Date.UTC(2013, 0, 2, 17, 5) / 1000 }) })).toBe(17);
    expect(value('day_of_week', { post: post({ createdUtc: Date.UTC(2013, 0, 2, 17, 5) / 1000 }) })).toBe(3);
  });

  test('every feature has a scope, and a batch equals each feature computed on its input, whatever the column order', async () => {
    for (const f of FEATURES) expect(['post', 'community', 'viewer', 'context']).toContain(f.scope);
    const context = corpus.posts[11]!;
    // Columns in a scrambled order, some rows without their community, viewer and context mixed across batches.
    const names = FEATURES.map((f) => f.name).reverse();
    names.push(names.shift()!);
    for (const [signedIn, withContext] of [[true, true], [true, false], [false, true], [false, false]] as const) {
      const inputs: FeatureInput[] = corpus.posts.slice(0, 500).map((p, i) => ({
        post: p,
        community: i % 7 === 0 ? null : (communities.get(p.community) ?? null),
        viewer: signedIn ? viewer : null,
        contextTokens: withContext ? new Set(titleTokens(context.title)) : null,
        contextCommunity: withContext ? context.community : null,
      }));
      // Twice: the first batch computes the kept per-post rows, the second reads them.
      for (let pass = 0; pass < 2; pass++) {
        const batch = buildFeatureBatch(names, inputs);
        expect(batch.rows).toBe(inputs.length);
        expect(differingValues(batch.values, names, inputs)).toEqual([]);
      }
    }
    // Runs of one community (as candidate sources list them, where a batch reuses per-community values) with the
    // viewer and the context changing inside a run: a value computed for one viewer or context is never reused for another.
    const other = deriveViewerProfile('feature-viewer-2', corpus.communities);
    const byCommunity = [...corpus.posts.slice(0, 600)].sort((a, b) => (a.community < b.community ? -1 : a.community > b.community ? 1 : 0));
    const runs: FeatureInput[] = byCommunity.map((p, i) => ({
      post: p,
      community: communities.get(p.community) ?? null,
      viewer: [viewer, viewer, other, null][i % 4]!,
      contextTokens: i % 5 < 2 ? new Set(titleTokens(context.title)) : null,
      contextCommunity: i % 5 < 2 ? context.community : i % 5 === 2 ? p.community : null,
    }));
    expect(differingValues(buildFeatureBatch(names, runs).values, names, runs)).toEqual([]);
    // Posts read from embedded stores (a post object per read, its kept row found by table and row), one store's rows
    // all kept at seeding and one's computed on first use, mixed with plain posts and in runs of one community.
    const kept = new EmbeddedStore();
    await seedEmbeddedStore(kept, corpus);
    const lazy = new EmbeddedStore();
    await seedStore(lazy, corpus);
    const ids = corpus.posts.slice(0, 400).map((p) => p.id);
    const fromKept = (await kept.getPosts(ids)) as Post[];
    const fromLazy = (await lazy.getPosts(ids)) as Post[];
    const mixed = fromKept.flatMap((p, i) => (i % 3 === 0 ? [p, fromLazy[i]!, corpus.posts[i]!] : [p]));
    const inputs: FeatureInput[] = mixed.map((p, i) => ({
      post: p,
      community: i % 11 === 0 ? null : (communities.get(p.community) ?? null),
      viewer,
      contextTokens: null,
      contextCommunity: null,
    }));
    for (let pass = 0; pass < 2; pass++) {
      expect(differingValues(buildFeatureBatch(names, inputs).values, names, inputs)).toEqual([]);
    }

    // A kept row belongs to its post object: another post with other values gets its own.
    const a = post({ title: 'TIL something?' });
    const b = { ...a, title: 'no' };
    expect(postFeatureRow(a)).not.toBe(postFeatureRow(b));
    expect(postFeatureRow(a)).toBe(postFeatureRow(a));
  });

  test('an unknown feature is an error', () => {
    expect(() => buildFeatureBatch(['hot', 'no_such_feature'], [])).toThrow('unknown feature "no_such_feature"');
  });
});
