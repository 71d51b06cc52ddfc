/**
 * What a newcomer runs: the built gateway (`npm start` runs dist/src/main.js) and the CLI, as child processes.
 * `npm test` builds dist/ before jest runs.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TokenService } from '../../src/auth/tokens';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';
import { realDatasetDir } from '../helpers/dataset';
import { CLI, MAIN, mainEnv as env, startMain } from '../helpers/main-process';
import { FAILED_DEFAULTS, tempRankersFile } from '../helpers/rankers-file';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

async function post(url: string, query: string, token?: string): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query }) });
  expect(res.status).toBe(200);
  return res.json();
}

const PICS = '{ contextualFeed(context: { community: "pics" }, first: 3) { edges { node { title community { name } } } rankedBy { id } } }';

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
});

describe('npm start (dist/src/main.js)', () => {
  test('with no configuration: synthetic data, embedded store, GraphiQL served locally, says what it uses, stops on SIGTERM', async () => {
    const gw = await startMain({});
    try {
      const started = gw.logs.find((l) => /serving/.test(String(l.msg)))!;
      expect(started.msg).toMatch(/store: embedded/);
      expect(started.msg).toMatch(/synthetic corpus/);
      const data = await post(gw.url, PICS);
      expect(data.errors).toBeUndefined();
      expect(data.data.contextualFeed.edges).toHaveLength(3);

      const html = await (await fetch(gw.url, { headers: { accept: 'text/html' } })).text();
      expect(html).toMatch(/graphiql/i);
      // Every script and stylesheet is inline or served by the gateway: nothing points off the machine.
      expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
      expect(html).not.toMatch(/<link[^>]+href=["']https?:/i);
      expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);

      const health = await fetch(new URL('/healthz', gw.url));
      expect(health.status).toBe(200);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  test('refuses to start in production without JWT_SECRET, naming it', () => {
    const r = spawnSync(process.execPath, [MAIN], { env: env({ NODE_ENV: 'production' }), encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/JWT_SECRET: required when NODE_ENV=production/);
  });

  test('refuses to start when a feed names a ranker the ranker configuration lacks, naming both', () => {
    const rankers = tempRankersFile({ rankers: [FAILED_DEFAULTS.hot, { id: 'personalised', kind: 'hot', version: '1', description: 'a typo' }] });
    try {
      const r = spawnSync(process.execPath, [MAIN], { env: env({ RANKERS_CONFIG: rankers.file }), encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/feed "home": scorer\.defaultRanker "lambdamart" is not a ranker of the configuration/);
      expect(r.stderr).toMatch(/feed "community": scorer\.defaultRanker "personalized" is not a ranker of the configuration \(known: hot, personalised\)/);
    } finally {
      rankers.remove();
    }
  });

  test('refuses a bad variable with its name', () => {
    const r = spawnSync(process.execPath, [MAIN], { env: env({ PORT: 'abc' }), encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PORT/);
  });
});

describe('npm start with REDIS_URL', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('an empty Redis without SEED_ON_START is refused with how to seed it', () => {
    const r = spawnSync(process.execPath, [MAIN], { env: env({ REDIS_URL: redis.url, SEED_ON_START: 'false' }), encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds no dataset: run `npm run seed`/);
  });

  test('an empty Redis is seeded at start-up; a second start finds it seeded and does not seed again', async () => {
    const dataset = realDatasetDir();
    const extra: Record<string, string> = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'startup:' };
    if (dataset) extra.DATASET_DIR = dataset;
    const first = await startMain(extra);
    try {
      expect(first.logs.some((l) => /Redis is empty; seeding it/.test(String(l.msg)))).toBe(true);
      expect((await post(first.url, PICS)).data.contextualFeed.edges[0].node.community.name).toBe('pics');
    } finally {
      await first.stop();
    }
    const second = await startMain(extra);
    try {
      expect(second.logs.some((l) => /already holds this dataset; not seeding/.test(String(l.msg)))).toBe(true);
      const started = second.logs.find((l) => /serving/.test(String(l.msg)))!;
      expect(started.msg).toMatch(/store: redis/);
      expect(started.msg).toMatch(dataset ? /Reddit Top 2.5 Million/ : /synthetic/);
      expect((await post(second.url, PICS)).data.contextualFeed.edges).toHaveLength(3);
    } finally {
      await second.stop();
    }
  });

  test('the CLI seeds Redis (npm run seed) and then the gateway serves it with SEED_ON_START=false', async () => {
    const seeded = spawnSync(process.execPath, [CLI, 'seed'], { env: env({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'cliseed:', SYNTHETIC_POSTS: '3000' }), encoding: 'utf8', timeout: 60_000 });
    expect(seeded.stderr).toBe('');
    expect(seeded.status).toBe(0);
    expect(seeded.stdout).toMatch(/holds 3000 posts of \d+ communities/);
    const gw = await startMain({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'cliseed:', SEED_ON_START: 'false' });
    try {
      const token = await new TokenService(DEVELOPMENT_JWT_SECRET).sign('someone');
      const data = await post(gw.url, '{ personalizedFeed(first: 5) { edges { node { id } } } }', token);
      expect(data.data.personalizedFeed.edges).toHaveLength(5);
    } finally {
      await gw.stop();
    }
  });
});

describe('cli token', () => {
  test('prints a token for the configured secret, with roles', async () => {
    const r = spawnSync(process.execPath, [CLI, 'token', '--user', 'alice', '--role', 'mle'], { env: env({}), encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const viewer = await new TokenService(DEVELOPMENT_JWT_SECRET).verify(lines[0]!);
    expect(viewer).toEqual({ userId: 'alice', roles: ['mle'], expiresAt: expect.any(Number) });
    // The default expiry: a day from now.
    expect(viewer.expiresAt! - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(viewer.expiresAt! - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
  });

  test('uses JWT_SECRET when set', async () => {
    const secret = 'q'.repeat(40);
    const r = spawnSync(process.execPath, [CLI, 'token', '--user', 'bob'], { env: env({ JWT_SECRET: secret }), encoding: 'utf8' });
    expect(await new TokenService(secret).verify(r.stdout.trim())).toMatchObject({ userId: 'bob' });
  });

  test('without --user says how to use it', () => {
    const r = spawnSync(process.execPath, [CLI, 'token'], { env: env({}), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--user/);
  });
});

describe('trusted documents in production: cli trust, then npm start with TRUSTED_DOCUMENTS', () => {
  test('the manifest the CLI writes is what the production gateway runs, and nothing else', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rg-trust-'));
    try {
      const op = 'query Pics { contextualFeed(context: { community: "pics" }, first: 2) { edges { node { id } } } }\n';
      writeFileSync(path.join(dir, 'pics.graphql'), op);
      const r = spawnSync(process.execPath, [CLI, 'trust', path.join(dir, 'pics.graphql')], { env: env({}), encoding: 'utf8' });
      expect(r.status).toBe(0);
      const manifest = JSON.parse(r.stdout) as Record<string, string>;
      const hash = createHash('sha256').update(op).digest('hex');
      expect(manifest).toEqual({ [hash]: op });
      writeFileSync(path.join(dir, 'trusted.json'), r.stdout);

      const gw = await startMain({ NODE_ENV: 'production', JWT_SECRET: 'z'.repeat(40), TRUSTED_DOCUMENTS: path.join(dir, 'trusted.json') });
      try {
        const call = async (body: unknown) => (await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;
        const byHash = await call({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
        expect(byHash.errors).toBeUndefined();
        expect(byHash.data.contextualFeed.edges).toHaveLength(2);
        expect((await call({ query: op })).errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
      } finally {
        expect(await gw.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
