/**
 * The MLE's side of rankers, through HTTP: variants from a configuration file, hot reload while serving, role
 * checks, experiments, interleaving, explanations and comparisons.
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { FEED_PIPELINES } from '../../src/pipeline/feeds';
import { assignArm } from '../../src/rankers/experiments';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';
import { startTestGateway, type GraphQLBody, type TestGateway } from '../helpers/gateway';

const corpus = generateSyntheticCorpus({ posts: 8000, communities: 50, seed: 3 });

const BASE_RANKERS = [
  { id: 'hot', kind: 'hot', version: '1', description: 'hot' },
  { id: 'new', kind: 'new', version: '1', description: 'newest first' },
  { id: 'top', kind: 'top', version: '1', description: 'top score' },
  {
    id: 'personalized',
    kind: 'linear',
    version: '1',
    description: 'hot plus affinity',
    params: { weights: { hot: 1, viewer_affinity: 4, context_title_similarity: 8 } },
  },
  {
    id: 'engagement',
    kind: 'linear',
    version: '3',
    description: 'comments and score, MLE only',
    public: false,
    params: { weights: { num_comments: 0.01, post_score: 0.001, upvote_ratio: 2 }, bias: 0.5 },
  },
  { id: 'cascade-top', kind: 'cascade', version: '1', description: 'new over all, top over the 50 newest', params: { light: 'new', heavy: 'top', topK: 50 } },
];

const EXPERIMENT = { id: 'home-ranking', feed: 'home', salt: 's1', arms: [{ name: 'control', ranker: 'personalized', weight: 1 }, { name: 'treatment', ranker: 'engagement', weight: 1 }] };

function writeConfig(file: string, body: unknown): void {
  // Write then rename, as deploy tools do, so the watcher never reads half a file.
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  renameSync(tmp, file);
}

function ok(body: GraphQLBody): Record<string, any> {
  if (body.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

const codes = (body: GraphQLBody) => (body.errors ?? []).map((e) => e.extensions?.code);

/** This configuration has no `lambdamart`: the home feed defaults to `hot`, as a deployment without that model would configure it. */
const WITHOUT_LAMBDAMART = { ...FEED_PIPELINES, home: { ...FEED_PIPELINES.home, scorer: { defaultRanker: 'hot', signedOutRanker: 'hot' } } };

let dir: string;
let file: string;
let gw: TestGateway;
let redis: TestRedis;
let cluster: TestRedisCluster;
let mle: string;
let viewer: string;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
});

afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

// The same behaviour on every store: snapshots, scores and viewer state live where the store keeps them.
describe.each(['embedded', 'redis', 'cluster'] as const)('%s store', (backend) => {
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rg-rankers-'));
  file = path.join(dir, 'rankers.json');
  writeConfig(file, { rankers: BASE_RANKERS, experiments: [EXPERIMENT] });
  gw = await startTestGateway({ corpus, backend: backend === 'embedded' ? 'embedded' : 'redis', redisUrl: backend === 'cluster' ? cluster.url : backend === 'redis' ? redis.url : undefined, keyPrefix: `t-${backend}:`, rankersConfig: file, pipelines: WITHOUT_LAMBDAMART, watchRankers: true });
  mle = await gw.token('mle-user', ['mle']);
  viewer = await gw.token('plain-user');
});

afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('variants and roles', () => {
  test('rankers lists public variants to everyone and every variant to an MLE, with status and load time', async () => {
    const q = '{ rankers { id version kind public status loadedAt lastError } }';
    const plain = ok((await gw.query(q, { token: viewer })).body).rankers.map((r: { id: string }) => r.id);
    expect(plain).toEqual(['hot', 'new', 'top', 'personalized', 'cascade-top']);
    const all = ok((await gw.query(q, { token: mle })).body).rankers;
    expect(all.map((r: { id: string }) => r.id)).toEqual(BASE_RANKERS.map((r) => r.id));
    for (const r of all) {
      expect(r.status).toBe('LOADED');
      expect(Date.parse(r.loadedAt)).toBeGreaterThan(0);
      expect(r.lastError).toBeNull();
    }
    expect(all.find((r: { id: string }) => r.id === 'engagement')).toMatchObject({ public: false, kind: 'linear', version: '3' });
  });

  test('a non-public variant is FORBIDDEN to a plain viewer and serves an MLE', async () => {
    const q = '{ personalizedFeed(first: 3, ranker: "engagement") { rankedBy { id version } edges { rank } } }';
    expect(codes((await gw.query(q, { token: viewer })).body)).toEqual(['FORBIDDEN']);
    expect(ok((await gw.query(q, { token: mle })).body).personalizedFeed.rankedBy).toEqual({ id: 'engagement', version: '3' });
    // Signed out, it does not exist.
    const signedOut = await gw.query('{ contextualFeed(context: { community: "pics" }, first: 3, ranker: "engagement") { rankedBy { id } } }');
    expect(codes(signedOut.body)).toEqual(['UNKNOWN_RANKER']);
    expect(signedOut.body.errors![0]!.message.split('Valid rankers:')[1]).not.toMatch(/engagement/);
  });

  test('a cascade ranks its top K by the heavy ranker and the rest by the light one', async () => {
    const feed = ok((await gw.query('{ personalizedFeed(first: 100, ranker: "cascade-top") { edges { score node { score createdAt } } } }', { token: viewer })).body).personalizedFeed;
    const edges = feed.edges as { score: number; node: { score: number; createdAt: string } }[];
    const head = edges.slice(0, 50);
    for (let i = 1; i < head.length; i++) expect(head[i]!.node.score).toBeLessThanOrEqual(head[i - 1]!.node.score);
    const tail = edges.slice(50);
    for (let i = 1; i < tail.length; i++) expect(Date.parse(tail[i]!.node.createdAt)).toBeLessThanOrEqual(Date.parse(tail[i - 1]!.node.createdAt));
    // The head is the 50 newest candidates: every tail post is older than every head post.
    const oldestHead = Math.min(...head.map((e) => Date.parse(e.node.createdAt)));
    for (const e of tail) expect(Date.parse(e.node.createdAt)).toBeLessThanOrEqual(oldestHead);
  });
});

describe('experiments', () => {
  test('without a ranker argument each viewer gets their arm, deterministically, and rankedBy reports it', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const user = `exp-user-${i}`;
      const token = await gw.token(user);
      const q = '{ personalizedFeed(first: 2) { rankedBy { id experiment bucket } } }';
      const first = ok((await gw.query(q, { token })).body).personalizedFeed.rankedBy;
      const again = ok((await gw.query(q, { token })).body).personalizedFeed.rankedBy;
      expect(again).toEqual(first);
      const expected = assignArm(EXPERIMENT as never, user);
      expect(first).toEqual({ id: expected.ranker, experiment: 'home-ranking', bucket: expected.arm });
      seen.add(first.bucket);
    }
    expect(seen).toEqual(new Set(['control', 'treatment']));
  });

  test('an explicit ranker argument bypasses the experiment', async () => {
    const rb = ok((await gw.query('{ personalizedFeed(first: 2, ranker: "hot") { rankedBy { id experiment bucket } } }', { token: viewer })).body).personalizedFeed.rankedBy;
    expect(rb).toEqual({ id: 'hot', experiment: null, bucket: null });
  });

  test('exposures are counted per arm in /metrics', async () => {
    const text = await (await fetch(new URL('/metrics', gw.url))).text();
    expect(text).toMatch(/ranking_experiment_exposures_total\{experiment="home-ranking",arm="(control|treatment)",ranker="\w+"\} \d+/);
  });
});

describe('interleaving', () => {
  test('"interleave:A,B" merges two rankings by team draft; each edge names its contributor', async () => {
    // Signed out on a community feed: nothing is filtered per viewer, so both teams draft from the lists below.
    const q = (ranker: string, first = 40) =>
      `{ contextualFeed(context: { community: "pics" }, first: ${first}, ranker: "${ranker}") { rankedBy { id status } edges { rank score contributedBy node { id } } } }`;
    const token = null;
    const a = ok((await gw.query(q('top', 100), { token })).body).contextualFeed.edges.map((e: { node: { id: string } }) => e.node.id);
    const b = ok((await gw.query(q('new', 100), { token })).body).contextualFeed.edges.map((e: { node: { id: string } }) => e.node.id);
    const mixed = ok((await gw.query(q('interleave:top,new'), { token })).body).contextualFeed;
    expect(mixed.rankedBy).toEqual({ id: 'interleave:top,new', status: 'VIRTUAL' });
    const edges = mixed.edges as { rank: number; score: number; contributedBy: string; node: { id: string } }[];
    expect(new Set(edges.map((e) => e.node.id)).size).toBe(edges.length);
    // Team draft: after every pair of picks both teams have picked equally often.
    let top = 0;
    let nw = 0;
    edges.forEach((e, i) => {
      if (e.contributedBy === 'top') top++;
      else if (e.contributedBy === 'new') nw++;
      else throw new Error(`unexpected contributor ${e.contributedBy}`);
      if (i % 2 === 1) expect(top).toBe(nw);
    });
    // Each team's picks appear in that team's own order, and each pick is that team's best item not yet taken.
    const taken = new Set<string>();
    for (const e of edges) {
      const own = e.contributedBy === 'top' ? a : b;
      expect(own.find((id: string) => !taken.has(id))).toBe(e.node.id);
      taken.add(e.node.id);
    }
    // Scores are non-increasing, and the same request gives the same interleaving.
    for (let i = 1; i < edges.length; i++) expect(edges[i]!.score).toBeLessThanOrEqual(edges[i - 1]!.score);
    const again = ok((await gw.query(q('interleave:top,new'), { token })).body).contextualFeed.edges;
    expect(again.map((e: { contributedBy: string }) => e.contributedBy)).toEqual(edges.map((e) => e.contributedBy));
  });

  test('interleaving a non-public variant needs the mle role; an unknown one is UNKNOWN_RANKER', async () => {
    const q = (r: string) => `{ personalizedFeed(first: 3, ranker: "${r}") { edges { rank } } }`;
    expect(codes((await gw.query(q('interleave:hot,engagement'), { token: viewer })).body)).toEqual(['FORBIDDEN']);
    expect(codes((await gw.query(q('interleave:hot,nope'), { token: viewer })).body)).toEqual(['UNKNOWN_RANKER']);
    expect(codes((await gw.query(q('interleave:hot,hot'), { token: viewer })).body)).toEqual(['BAD_USER_INPUT']);
    expect(ok((await gw.query(q('interleave:hot,engagement'), { token: mle })).body).personalizedFeed.edges).toHaveLength(3);
  });
});

describe('explanations', () => {
  const Q = `{ personalizedFeed(first: 10, ranker: "engagement") { edges { score node { id score numComments } explanation { ranker rankerVersion bias features { name value contribution } } } } }`;

  test('a linear ranker explains exactly: weight x value per feature, plus the bias, sums to the score', async () => {
    const edges = ok((await gw.query(Q, { token: mle })).body).personalizedFeed.edges;
    expect(edges).toHaveLength(10);
    const weights: Record<string, number> = { num_comments: 0.01, post_score: 0.001, upvote_ratio: 2 };
    for (const e of edges) {
      const x = e.explanation;
      expect(x.ranker).toBe('engagement');
      expect(x.rankerVersion).toBe('3');
      expect(x.bias).toBe(0.5);
      expect(x.features.map((f: { name: string }) => f.name)).toEqual(['num_comments', 'post_score', 'upvote_ratio']);
      const byName = Object.fromEntries(x.features.map((f: { name: string }) => [f.name, f]));
      expect(byName.num_comments.value).toBe(e.node.numComments);
      expect(byName.post_score.value).toBe(e.node.score);
      for (const f of x.features) expect(f.contribution).toBeCloseTo(weights[f.name]! * (f.value ?? 0), 9);
      const sum = x.features.reduce((s: number, f: { contribution: number }) => s + f.contribution, x.bias);
      expect(sum).toBeCloseTo(e.score, 9);
    }
  });

  test('a plain viewer is FORBIDDEN the explanation and still gets the feed', async () => {
    const { body } = await gw.query('{ personalizedFeed(first: 2) { edges { rank explanation { ranker } } } }', { token: viewer });
    expect(codes(body)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(body.data?.personalizedFeed.edges).toHaveLength(2);
    expect(body.data?.personalizedFeed.edges[0].explanation).toBeNull();
  });
});

describe('compareRankers', () => {
  const Q = (extra = '') => `{ compareRankers(a: "top", b: "new", k: 10${extra}) {
    k candidates overlapAtK kendallTau
    a { ranker { id } items { rank score post { id score createdAt } } }
    b { ranker { id } items { rank score post { id } } }
    shifts { post { id } rankA rankB shift } } }`;

  test('ranks one candidate set both ways and measures their agreement', async () => {
    const c = ok((await gw.query(Q(), { token: mle })).body).compareRankers;
    expect(c.k).toBe(10);
    expect(c.candidates).toBeGreaterThan(100);
    expect(c.a.ranker.id).toBe('top');
    expect(c.b.ranker.id).toBe('new');
    expect(c.a.items.map((i: { rank: number }) => i.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < 10; i++) expect(c.a.items[i].post.score).toBeLessThanOrEqual(c.a.items[i - 1].post.score);
    const topA = new Set(c.a.items.map((i: { post: { id: string } }) => i.post.id));
    const shared = c.b.items.filter((i: { post: { id: string } }) => topA.has(i.post.id)).length;
    expect(c.overlapAtK).toBeCloseTo(shared / 10, 12);
    expect(c.kendallTau).toBeGreaterThanOrEqual(-1);
    expect(c.kendallTau).toBeLessThanOrEqual(1);
    expect(c.shifts.length).toBe(20 - shared);
    for (const s of c.shifts) expect(s.shift).toBe(s.rankA - s.rankB);
    const firstOfA = c.shifts.find((s: { post: { id: string } }) => s.post.id === c.a.items[0].post.id);
    expect(firstOfA.rankA).toBe(1);
  });

  test('a ranker compared with itself agrees perfectly', async () => {
    const c = ok((await gw.query('{ compareRankers(a: "top", b: "top", k: 5) { overlapAtK kendallTau shifts { shift } } }', { token: mle })).body).compareRankers;
    expect(c.overlapAtK).toBe(1);
    expect(c.kendallTau).toBeCloseTo(1, 12);
    for (const s of c.shifts) expect(s.shift).toBe(0);
  });

  test('works on a context and for another viewer; plain viewers are FORBIDDEN', async () => {
    const c = ok((await gw.query(Q(', context: { community: "pics" }, viewer: "someone-else"'), { token: mle })).body).compareRankers;
    expect(c.candidates).toBeGreaterThan(10);
    expect(codes((await gw.query(Q(), { token: viewer })).body)).toEqual(['FORBIDDEN']);
    expect(codes((await gw.query(Q())).body)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('hot reload while serving', () => {
  test('a variant added, changed and broken while requests flow: the good version serves throughout, rankers shows each change', async () => {
    const token = await gw.token('reload-user', ['mle']);
    let stop = false;
    const failures: string[] = [];
    const versions = new Set<string>();
    let served = 0;
    // Four clients ask for the variant being edited, continuously, until the edits are done.
    const traffic = Array.from({ length: 4 }, async (_, i) => {
      while (!stop) {
        const { status, body } = await gw.query(`{ personalizedFeed(first: 5, ranker: "${i % 2 ? 'engagement' : 'hot'}") { rankedBy { id version } edges { rank } } }`, { token });
        if (status !== 200 || body.errors) failures.push(JSON.stringify(body.errors ?? status));
        else {
          served++;
          const rb = body.data!.personalizedFeed.rankedBy;
          versions.add(`${rb.id}@${rb.version}`);
        }
      }
    });
    const waitForReload = () => new Promise<void>((resolve) => {
      const off = gw.rankers.onReload(() => {
        off();
        resolve();
      });
    });
    const rankers = async () => ok((await gw.query('{ rankers { id version status lastError } }', { token })).body).rankers as { id: string; version: string; status: string; lastError: string | null }[];

    try {
      // 1. Add a variant.
      const added = [...BASE_RANKERS, { id: 'fresh', kind: 'linear', version: 'a', description: 'new variant', params: { weights: { post_score: 1 } } }];
      let reloaded = waitForReload();
      writeConfig(file, { rankers: added, experiments: [EXPERIMENT] });
      await reloaded;
      expect((await rankers()).find((r) => r.id === 'fresh')).toMatchObject({ version: 'a', status: 'LOADED' });
      expect(ok((await gw.query('{ personalizedFeed(first: 1, ranker: "fresh") { rankedBy { id version } } }', { token })).body).personalizedFeed.rankedBy).toEqual({ id: 'fresh', version: 'a' });

      // 2. Change the served variant: a new version replaces the old one.
      const changed = added.map((r) => (r.id === 'engagement' ? { ...r, version: '4', params: { weights: { num_comments: 1 } } } : r));
      reloaded = waitForReload();
      writeConfig(file, { rankers: changed, experiments: [EXPERIMENT] });
      await reloaded;
      expect((await rankers()).find((r) => r.id === 'engagement')).toMatchObject({ version: '4', status: 'LOADED', lastError: null });

      // 3. Break the file: bad JSON. Everything keeps serving; every variant says why it is stale.
      reloaded = waitForReload();
      writeConfig(file, '{ "rankers": [ this is not json');
      await reloaded;
      for (const r of await rankers()) {
        expect(r.status).toBe('STALE');
        expect(r.lastError).toMatch(/cannot read ranker configuration/);
      }
      expect(ok((await gw.query('{ personalizedFeed(first: 1, ranker: "engagement") { rankedBy { version } } }', { token })).body).personalizedFeed.rankedBy.version).toBe('4');

      // 4. Break one variant: a feature the registry does not have. Its previous version keeps serving; others reload.
      const broken = changed.map((r) => (r.id === 'engagement' ? { ...r, version: '5', params: { weights: { no_such_feature: 1 } } } : r));
      reloaded = waitForReload();
      writeConfig(file, { rankers: broken, experiments: [EXPERIMENT] });
      await reloaded;
      const after = await rankers();
      expect(after.find((r) => r.id === 'engagement')).toMatchObject({ version: '4', status: 'STALE' });
      expect(after.find((r) => r.id === 'engagement')!.lastError).toMatch(/no_such_feature/);
      expect(after.find((r) => r.id === 'hot')).toMatchObject({ status: 'LOADED', lastError: null });
      expect(ok((await gw.query('{ personalizedFeed(first: 1, ranker: "engagement") { rankedBy { version } } }', { token })).body).personalizedFeed.rankedBy.version).toBe('4');

      // 5. Mend it.
      reloaded = waitForReload();
      writeConfig(file, { rankers: BASE_RANKERS, experiments: [EXPERIMENT] });
      await reloaded;
      expect((await rankers()).find((r) => r.id === 'engagement')).toMatchObject({ version: '3', status: 'LOADED' });
      expect((await rankers()).find((r) => r.id === 'fresh')).toBeUndefined();
    } finally {
      stop = true;
      await Promise.all(traffic);
    }
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(20);
    expect(versions).toEqual(new Set(['hot@1', 'engagement@3', 'engagement@4']));
  });

  test('a model file dropped in is picked up; one with the wrong feature count never replaces the serving one', async () => {
    const token = await gw.token('model-dropper', ['mle']);
    const fixtures = path.resolve(__dirname, '../fixtures/xgboost');
    // A 12-column regression model without feature names: the variant names its columns.
    const features = ['hot', 'created_utc', 'post_score', 'num_comments', 'upvote_ratio', 'community_subscribers', 'viewer_affinity', 'is_self', 'ups', 'downs', 'log_score', 'log_comments'];
    const model = path.join(dir, 'tree.json');
    copyFileSync(path.join(fixtures, 'regression.json'), model);
    const withTree = [...BASE_RANKERS, { id: 'tree', kind: 'xgboost', description: 'a tree model', params: { model: 'tree.json', features } }];
    const waitForReload = () => new Promise<void>((resolve) => {
      const off = gw.rankers.onReload(() => {
        off();
        resolve();
      });
    });
    let reloaded = waitForReload();
    writeConfig(file, { rankers: withTree, experiments: [EXPERIMENT] });
    await reloaded;
    const tree = async () => (ok((await gw.query('{ rankers { id version status lastError } }', { token })).body).rankers as { id: string; version: string; status: string; lastError: string | null }[]).find((r) => r.id === 'tree')!;
    const first = await tree();
    expect(first.status).toBe('LOADED');
    const feed = async () => ok((await gw.query('{ personalizedFeed(first: 3, ranker: "tree") { rankedBy { id version } edges { rank } } }', { token })).body).personalizedFeed;
    expect((await feed()).rankedBy).toEqual({ id: 'tree', version: first.version });

    // Same file name, a model with 301 columns: refused, the 12-column version keeps serving.
    reloaded = waitForReload();
    const tmp = `${model}.tmp`;
    copyFileSync(path.join(fixtures, 'rank.json'), tmp);
    renameSync(tmp, model);
    await reloaded;
    const broken = await tree();
    expect(broken.status).toBe('STALE');
    expect(broken.version).toBe(first.version);
    expect(broken.lastError).toMatch(/12 features but the model has 301 columns/);
    expect((await feed()).rankedBy).toEqual({ id: 'tree', version: first.version });

    reloaded = waitForReload();
    writeConfig(file, { rankers: BASE_RANKERS, experiments: [EXPERIMENT] });
    await reloaded;
  });
});

describe('tree model explanations', () => {
  test('the shipped LambdaMART model explains each edge with TreeSHAP values that sum to its score', async () => {
    const repoModels = path.resolve(__dirname, '../../models');
    const lm = { id: 'lambdamart', kind: 'xgboost', description: 'shipped model', params: { model: path.join(repoModels, 'home-lambdamart.json') } };
    const waitForReload = new Promise<void>((resolve) => {
      const off = gw.rankers.onReload(() => {
        off();
        resolve();
      });
    });
    writeConfig(file, { rankers: [...BASE_RANKERS, lm], experiments: [EXPERIMENT] });
    await waitForReload;
    const edges = ok((await gw.query('{ personalizedFeed(first: 10, ranker: "lambdamart") { edges { score explanation { ranker bias features { name value contribution } } } } }', { token: mle })).body).personalizedFeed.edges;
    expect(edges).toHaveLength(10);
    for (const e of edges) {
      expect(e.explanation.ranker).toBe('lambdamart');
      expect(e.explanation.features.length).toBeGreaterThanOrEqual(30);
      const sum = e.explanation.features.reduce((s: number, f: { contribution: number }) => s + f.contribution, e.explanation.bias);
      expect(Math.abs(sum - e.score)).toBeLessThan(1e-4);
    }
  });
});
});

test('the configuration file in the repository loads every variant', () => {
  const repoFile = JSON.parse(readFileSync(path.resolve(__dirname, '../../models/rankers.json'), 'utf8'));
  expect(repoFile.rankers.map((r: { id: string }) => r.id)).toEqual(expect.arrayContaining(['hot', 'new', 'top', 'personalized']));
});
