import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Post } from '../../src/content';
import { loadCorpus } from '../../src/dataset';
import { loadRedditCsv } from '../../src/dataset/reddit-csv';

const HEADER =
  'created_utc,score,domain,id,title,ups,downs,num_comments,permalink,selftext,link_flair_text,over_18,thumbnail,' +
  'subreddit_id,edited,link_flair_css_class,author_flair_css_class,is_self,name,url,distinguished';

interface Row {
  created?: string;
  score?: string;
  domain?: string;
  id?: string;
  title?: string;
  ups?: string;
  downs?: string;
  comments?: string;
  permalink?: string;
  selftext?: string;
  over18?: string;
  isSelf?: string;
  url?: string;
}

/** Quotes a field the way the upstream files do: only when it needs it. */
function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function row(r: Row): string {
  const id = r.id ?? 'abc12';
  return [
    r.created ?? '1300000000.0',
    r.score ?? '100',
    r.domain ?? 'i.imgur.com',
    id,
    r.title ?? 'a title',
    r.ups ?? '150',
    r.downs ?? '50',
    r.comments ?? '10',
    r.permalink ?? `http://www.reddit.com/r/x/comments/${id}/a_title/`,
    r.selftext ?? '',
    '',
    r.over18 ?? 'False',
    'default',
    't5_2qh0u',
    'False',
    '',
    '',
    r.isSelf ?? 'False',
    `t3_${id}`,
    r.url ?? 'http://i.imgur.com/abcde.jpg',
    '',
  ]
    .map(field)
    .join(',');
}

function csv(rows: string[], eol = '\n'): string {
  return [HEADER, ...rows].join(eol) + eol;
}

const MANIFEST = [
  { uri: 'http://www.reddit.com/r/Pics/', subscribers: 3921652, name: '/r/Pics: /r/Pics: images and photos' },
  { uri: 'http://www.reddit.com/r/funny/', subscribers: 3997640, name: '/r/funny: funny' },
  { uri: 'http://www.reddit.com/r/notloaded/', subscribers: 5, name: '/r/notloaded: not here' },
];

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reddit-csv-test-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh dataset folder under the temporary directory. */
/** `manifest: null` leaves manifest.json out. */
function makeDataset(name: string, files: Record<string, string>, manifest: unknown = MANIFEST): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  if (manifest !== null) fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'data', file), content);
  return dir;
}

const TRICKY_TITLE = 'He said "hello, world"\nand then, well, left';

function standardFiles(): Record<string, string> {
  return {
    'pics.csv': csv([
      row({
        id: '92dd8',
        created: '1247924169.0',
        score: '21868',
        ups: '26752',
        downs: '4884',
        comments: '1746',
        domain: 'self.pics',
        title: 'test post please ignore',
        isSelf: 'True',
        selftext: 'a body, with "quotes"\nand lines that the loader must drop',
        url: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
        permalink: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
      }),
      row({ id: 'p2', title: TRICKY_TITLE, over18: 'True', url: '', domain: '', permalink: '' }),
      row({ id: 'p3', score: 'lots' }), // malformed: non-numeric score
      row({ id: '', title: 'no id' }), // malformed: missing id
      row({ id: 'p4', title: '' }), // malformed: missing title
      row({ id: 'p5', created: 'yesterday' }), // malformed: non-numeric created_utc
      'too,few,columns', // malformed: wrong column count
      row({ id: 'f1', title: 'a repost of a funny post' }), // duplicate of funny's f1, which is read first
      row({ id: 'p6', score: '-3', ups: '1', downs: '4', comments: '0' }),
    ]),
    'funny.csv': csv([row({ id: 'f1', title: 'the original' }), row({ id: 'f2', created: '1300000000.7' })], '\r\n'),
    'zzz_unlisted.csv': csv([row({ id: 'z1' })]),
    'notes.txt': 'not a csv file',
  };
}

describe('loadRedditCsv on a small folder', () => {
  let dir: string;
  let result: Awaited<ReturnType<typeof loadRedditCsv>>;
  let byId: Map<string, Post>;

  beforeAll(async () => {
    dir = makeDataset('standard', standardFiles());
    result = await loadRedditCsv(dir);
    byId = new Map(result.corpus.posts.map((p) => [p.id, p]));
  });

  test('maps a row exactly, dropping selftext and the other unused columns', () => {
    expect(byId.get('92dd8')).toEqual({
      id: '92dd8',
      community: 'pics',
      title: 'test post please ignore',
      url: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
      permalink: 'http://www.reddit.com/r/pics/comments/92dd8/test_post_please_ignore/',
      score: 21868,
      ups: 26752,
      downs: 4884,
      numComments: 1746,
      createdUtc: 1247924169,
      domain: 'self.pics',
      over18: false,
      isSelf: true,
    });
  });

  test('quoted titles keep their commas, quotes and newlines; empty url/permalink/domain become null', () => {
    const p = byId.get('p2');
    expect(p?.title).toBe(TRICKY_TITLE);
    expect(p?.over18).toBe(true);
    expect(p?.url).toBeNull();
    expect(p?.permalink).toBeNull();
    expect(p?.domain).toBeNull();
    expect(byId.get('p6')).toMatchObject({ score: -3, ups: 1, downs: 4, numComments: 0 });
    expect(byId.get('f2')?.createdUtc).toBe(1300000000); // CRLF file; fractional seconds truncated
  });

  test('keeps valid rows in file order, files sorted by name', () => {
    expect(result.corpus.posts.map((p) => p.id)).toEqual(['f1', 'f2', '92dd8', 'p2', 'p6', 'z1']);
    expect(byId.get('f1')?.title).toBe('the original');
    expect(byId.get('f1')?.community).toBe('funny');
  });

  test('reports malformed rows and duplicate ids, one line per kind, naming the file', () => {
    const { warnings } = result;
    const malformed = warnings.filter((w) => /malformed/.test(w));
    expect(malformed).toHaveLength(1);
    expect(malformed[0]).toMatch(/5 malformed row/);
    expect(malformed[0]).toContain('pics.csv (5)');
    const dupes = warnings.filter((w) => /already seen id/.test(w));
    expect(dupes).toHaveLength(1);
    expect(dupes[0]).toMatch(/1 row/);
    expect(dupes[0]).toContain('pics.csv (1)');
  });

  test('communities: sorted by name, manifest matched case-insensitively, counts of kept posts', () => {
    expect(result.corpus.communities).toEqual([
      { name: 'funny', title: 'funny', subscribers: 3997640, postCount: 2 },
      { name: 'pics', title: '/r/Pics: images and photos', subscribers: 3921652, postCount: 3 },
      { name: 'zzz_unlisted', title: null, subscribers: null, postCount: 1 },
    ]);
    expect(result.warnings.some((w) => /not in manifest\.json.*zzz_unlisted/.test(w))).toBe(true);
  });

  test('info names the source and folder, with a 16-hex fingerprint', () => {
    expect(result.corpus.info).toEqual({
      source: 'reddit-csv',
      description: `Reddit Top 2.5 Million layout at ${path.resolve(dir)} (3 communities)`,
      posts: 6,
      communities: 3,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  test('loadCorpus reads the folder when datasetDir is set', async () => {
    const { corpus } = await loadCorpus({ datasetDir: dir, syntheticPosts: 5 });
    expect(corpus).toEqual(result.corpus);
  });
});

describe('loadRedditCsv fingerprint', () => {
  test('is stable across loads and locations, and changes when any file changes', async () => {
    const a = makeDataset('fp-a', standardFiles());
    const b = makeDataset('fp-b', standardFiles());
    const fp = async (d: string) => (await loadRedditCsv(d)).corpus.info.fingerprint;
    const base = await fp(a);
    expect(await fp(a)).toBe(base);
    expect(await fp(b)).toBe(base);

    fs.appendFileSync(path.join(b, 'data', 'funny.csv'), row({ id: 'f3' }) + '\r\n');
    const changedData = await fp(b);
    expect(changedData).not.toBe(base);

    // A change that keeps every parsed post the same (selftext only) still changes the content hash.
    const c = makeDataset('fp-c', { ...standardFiles(), 'zzz_unlisted.csv': csv([row({ id: 'z1', selftext: 'edited' })]) });
    expect(await fp(c)).not.toBe(base);

    const d = makeDataset('fp-d', standardFiles(), [...MANIFEST, { uri: 'http://www.reddit.com/r/new/', subscribers: 1, name: '/r/new: n' }]);
    expect(await fp(d)).not.toBe(base);

    const e = makeDataset('fp-e', { ...standardFiles(), 'zzz_renamed.csv': csv([row({ id: 'z1' })]) });
    fs.rmSync(path.join(e, 'data', 'zzz_unlisted.csv'));
    expect(await fp(e)).not.toBe(base);
  });
});

describe('loadRedditCsv on incomplete folders', () => {
  test('a missing manifest.json is tolerated: subscribers and titles are null, with a warning', async () => {
    const dir = makeDataset('no-manifest', { 'pics.csv': csv([row({ id: 'a1' })]) }, null);
    const { corpus, warnings } = await loadRedditCsv(dir);
    expect(corpus.communities).toEqual([{ name: 'pics', title: null, subscribers: null, postCount: 1 }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no manifest\.json/);
  });

  test('an unreadable manifest is reported, not fatal', async () => {
    const dir = makeDataset('bad-manifest', { 'pics.csv': csv([row({ id: 'a1' })]) }, null);
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{ not json');
    const { corpus, warnings } = await loadRedditCsv(dir);
    expect(corpus.communities[0]?.subscribers).toBeNull();
    expect(warnings.some((w) => /not valid JSON/.test(w))).toBe(true);
  });

  test('a missing data/ folder is an error naming it', async () => {
    const dir = path.join(tmp, 'no-data');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(MANIFEST));
    await expect(loadRedditCsv(dir)).rejects.toThrow(path.join(dir, 'data'));
    await expect(loadRedditCsv(dir)).rejects.toThrow(/has no data\/ folder/);
  });

  test('a missing dataset folder is an error naming it', async () => {
    const dir = path.join(tmp, 'does-not-exist');
    await expect(loadRedditCsv(dir)).rejects.toThrow(new RegExp(`${escapeRegExp(dir)} does not exist`));
  });

  test('an empty data/ folder is an error naming it', async () => {
    const dir = makeDataset('empty-data', { 'README.txt': 'nothing here' });
    await expect(loadRedditCsv(dir)).rejects.toThrow(`${path.join(dir, 'data')} contains no <subreddit>.csv files`);
  });

  test('columns are found by name, and a file without the required columns is skipped and reported', async () => {
    const dir = makeDataset('columns', {
      'reordered.csv': 'title,id,score,created_utc,is_self\n"x, y",r1,5,1300000000.0,True\n',
      'broken.csv': 'foo,bar\n1,2\n',
      'unclosed.csv': `${HEADER}\n${row({ id: 'u1' })}\n1300000000.0,5,d,u2,"never closed,1,1\n`,
    });
    const { corpus, warnings } = await loadRedditCsv(dir);
    expect(corpus.posts.map((p) => p.id)).toEqual(['r1', 'u1']);
    expect(corpus.posts[0]).toMatchObject({ title: 'x, y', score: 5, ups: 0, downs: 0, isSelf: true, url: null, domain: null });
    expect(corpus.communities.map((c) => [c.name, c.postCount])).toEqual([
      ['broken', 0],
      ['reordered', 1],
      ['unclosed', 1],
    ]);
    expect(warnings.some((w) => /unreadable file.*broken\.csv \(header lacks id, title, created_utc, score\)/.test(w))).toBe(true);
    expect(warnings.some((w) => /1 malformed row.*unclosed\.csv \(1\)/.test(w))).toBe(true);
  });

  test('many files are read with bounded concurrency and come back in name order', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`c${String(i).padStart(3, '0')}.csv`] = csv([row({ id: `id${i}` })]);
    const dir = makeDataset('many', files, undefined);
    const { corpus } = await loadRedditCsv(dir);
    expect(corpus.posts.map((p) => p.id)).toEqual(Array.from({ length: 60 }, (_, i) => `id${i}`));
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
