import type { Corpus } from '../../src/content';
import { loadRedditCsv } from '../../src/dataset/reddit-csv';
import { describeWithRealData, loadRealDataset, realDatasetDir } from '../helpers/dataset';

describeWithRealData('Reddit Top 2.5 Million: the shared 100-community folder', () => {
  let corpus: Corpus;
  let warnings: string[];

  beforeAll(async () => {
    ({ corpus, warnings } = await loadRealDataset());
  });

  test('loads every post and community, without warnings', () => {
    expect(corpus.posts).toHaveLength(98_284);
    expect(corpus.communities).toHaveLength(100);
    expect(corpus.info).toMatchObject({
      source: 'reddit-csv',
      posts: 98_284,
      communities: 100,
      description: expect.stringMatching(/^Reddit Top 2\.5 Million layout at .+ \(100 communities\)$/),
    });
    expect(warnings).toEqual([]);
  });

  test('takes subscriber counts and titles from the manifest', () => {
    const pics = corpus.communities.find((c) => c.name === 'pics');
    expect(pics).toEqual({ name: 'pics', title: '/r/Pics', subscribers: 3_921_652, postCount: expect.any(Number) });
    for (const c of corpus.communities) expect(c.subscribers).toEqual(expect.any(Number));
  });

  test('parses a known row exactly', () => {
    const post = corpus.posts.find((p) => p.id === '92dd8');
    expect(post).toEqual({
      id: '92dd8',
      community: 'pics',
      title: 'test post please ignore',
      url: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
      permalink: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
      score: 21_868,
      ups: 26_752,
      downs: 4_884,
      numComments: 1_746,
      createdUtc: 1_247_924_169,
      domain: 'self.pics',
      over18: false,
      isSelf: true,
    });
  });

  test('community post counts match the posts, including the short ones (blog 244, announcements 54)', () => {
    const counts = new Map<string, number>();
    for (const p of corpus.posts) counts.set(p.community, (counts.get(p.community) ?? 0) + 1);
    const names = new Set(corpus.communities.map((c) => c.name));
    for (const name of counts.keys()) expect(names).toContain(name);
    for (const c of corpus.communities) expect(c.postCount).toBe(counts.get(c.name) ?? 0);
    expect(counts.get('blog')).toBe(244);
    expect(counts.get('announcements')).toBe(54);
  });

  test('ids are unique and every field has its type', () => {
    expect(new Set(corpus.posts.map((p) => p.id)).size).toBe(corpus.posts.length);
    // Collected and compared once: ~100,000 separate expect() calls would dominate the run time.
    const bad = corpus.posts.filter(
      (p) =>
        ![p.createdUtc, p.score, p.ups, p.downs, p.numComments].every(Number.isInteger) ||
        p.title.trim() === '' ||
        typeof p.over18 !== 'boolean' ||
        typeof p.isSelf !== 'boolean',
    );
    expect(bad).toEqual([]);
  });

  test('the fingerprint is stable across two loads', async () => {
    const again = await loadRedditCsv(realDatasetDir() as string);
    expect(again.corpus.info.fingerprint).toBe(corpus.info.fingerprint);
    expect(again.corpus.info.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
});
