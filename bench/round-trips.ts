/**
 * Redis round trips per cold home-feed request, at 100, 1,000 and 5,000 candidates: the count must not grow with the
 * candidates. Run by `npm run bench` (after the latency table) and by test/integration/store.redis.test.ts.
 *
 * In process: a private redis-server (and a three-master Redis Cluster when redis-cli is there), a synthetic corpus
 * large enough for 5,000 candidates, and a gateway whose home pipeline has its source limits scaled to each size.
 * Each request is a never-seen viewer (so the ranked list is built), signed in with role `mle` to read the funnel's
 * candidate count. Round trips are counted at the connection (`store.stats()`: batches written to Redis sockets),
 * from the request until the connection goes quiet, so writes made after the answer count too.
 */
import { seedDataOf } from '../src/bootstrap';
import type { Corpus } from '../src/content';
import { generateSyntheticCorpus } from '../src/dataset/synthetic';
import { FEED_PIPELINES, type FeedPipelines } from '../src/pipeline/feeds';
import { RedisStore } from '../src/store/redis';
import type { StoreStats } from '../src/store/store';
import { startTestGateway } from '../test/helpers/gateway';
import { startRedisCluster } from '../test/helpers/redis-cluster';
import { startRedisServer } from '../test/helpers/redis-server';

export const CANDIDATE_SIZES = [100, 1000, 5000] as const;

/** Enough posts per community that a viewer of 5 subscriptions can fill 4,000 subscription candidates. */
export function roundTripCorpus(): Corpus {
  return generateSyntheticCorpus({ posts: 30_000, communities: 40, seed: 5 });
}

/** The home pipeline with its sources' limits scaled to about `candidates` in all, and deadlines that never bind. */
export function homePipelineFor(candidates: number): FeedPipelines {
  const home = FEED_PIPELINES.home;
  const limitOf = (source: unknown) => (source === 'subscriptions' ? Math.round(candidates * 0.8) : Math.round(candidates * 0.25));
  return {
    ...FEED_PIPELINES,
    home: { ...home, deadlineMs: 30_000, sources: home.sources.map((s) => ({ ...s, timeoutMs: 30_000, limit: limitOf(s.source) })) },
  };
}

export interface RoundTripRow {
  readonly target: number;
  /** Distinct candidates per request (the funnel's `unique`), min and max over the requests. */
  readonly candidates: readonly [number, number];
  /** Round trips per request with the in-process feature index emptied first (everything read from Redis). */
  readonly coldIndex: readonly number[];
  /** Round trips per request with the feature index as earlier requests left it. */
  readonly warmIndex: readonly number[];
  /** Of a cold-index request: round trips by first command (e.g. mget, zrange), summed over the requests. */
  readonly byCommand: Readonly<Record<string, number>>;
}

const QUERY = '{ personalizedFeed(first: 25) { edges { node { id title community { name } } } funnel { unique } } }';

/** Waits until nothing has been written to Redis for a while: fire-and-forget writes after the answer count too. */
async function settled(store: RedisStore): Promise<StoreStats> {
  let last = store.stats().roundTrips;
  for (let quiet = 0, i = 0; quiet < 3 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const now = store.stats().roundTrips;
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return store.stats();
}

/** Measures `requests` cold home requests at each size over `store` (seeded with `corpus`). */
export async function measureRoundTrips(store: RedisStore, corpus: Corpus, opts: { sizes?: readonly number[]; requests?: number } = {}): Promise<RoundTripRow[]> {
  const rows: RoundTripRow[] = [];
  const requests = opts.requests ?? 3;
  for (const target of opts.sizes ?? CANDIDATE_SIZES) {
    const gw = await startTestGateway({ corpus, backend: 'redis', redisUrl: 'redis://unused', keyPrefix: store.keys.prefix, store, pipelines: homePipelineFor(target) });
    try {
      const candidates: number[] = [];
      const coldIndex: number[] = [];
      const warmIndex: number[] = [];
      const byCommand: Record<string, number> = {};
      for (const warm of [false, true]) {
        for (let i = 0; i < requests; i++) {
          const token = await gw.token(`round-trips-${target}-${warm}-${i}-${process.pid}-${Date.now()}`, ['mle']);
          if (!warm) store.dropFeatureIndex();
          const before = await settled(store);
          const { status, body } = await gw.query(QUERY, { token });
          const after = await settled(store);
          const feed = body.data?.personalizedFeed;
          if (status !== 200 || body.errors?.length || !feed) throw new Error(`round-trip request failed: HTTP ${status} ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
          candidates.push(feed.funnel.unique as number);
          (warm ? warmIndex : coldIndex).push(after.roundTrips - before.roundTrips);
          if (!warm) {
            for (const [name, n] of Object.entries(after.roundTripsByCommand)) {
              const d = n - (before.roundTripsByCommand[name] ?? 0);
              if (d > 0) byCommand[name] = (byCommand[name] ?? 0) + d;
            }
          }
        }
      }
      rows.push({ target, candidates: [Math.min(...candidates), Math.max(...candidates)], coldIndex, warmIndex, byCommand });
    } finally {
      // Not gw.close(): it would close the shared store.
      await gw.gateway.close();
      await gw.gateway.feeds.idle();
      await gw.rankers.close();
    }
  }
  return rows;
}

export interface RoundTripReport {
  readonly redis: RoundTripRow[] | { error: string };
  readonly cluster: RoundTripRow[] | { error: string };
}

/** The whole scenario: a private redis-server, then a private cluster; each stopped by its pids when done. */
export async function roundTripsScenario(log: (line: string) => void = () => {}): Promise<RoundTripReport> {
  const corpus = roundTripCorpus();
  const data = seedDataOf(corpus);
  const on = async (url: string): Promise<RoundTripRow[]> => {
    const store = new RedisStore({ url, keyPrefix: 'bench-rt:' });
    try {
      await store.connect();
      await store.seed(data);
      return await measureRoundTrips(store, corpus);
    } finally {
      await store.close();
    }
  };
  const attempt = async (label: string, start: () => Promise<{ url: string; stop(): Promise<void> }>): Promise<RoundTripRow[] | { error: string }> => {
    log(`[round trips] ${label}: ${corpus.info.posts} synthetic posts, ${CANDIDATE_SIZES.join(' / ')} candidates…`);
    let server: { url: string; stop(): Promise<void> } | null = null;
    try {
      server = await start();
      return await on(server.url);
    } catch (err) {
      return { error: (err as Error).message.split('\n')[0]! };
    } finally {
      await server?.stop();
    }
  };
  const redis = await attempt('redis-server', startRedisServer);
  const cluster = await attempt('Redis Cluster, 3 masters', () => startRedisCluster());
  return { redis, cluster };
}

const range = (xs: readonly number[]) => (xs.length === 0 ? '-' : Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}-${Math.max(...xs)}`);

/** The table `npm run bench` prints. */
export function roundTripsTable(report: RoundTripReport): string {
  const header = ['store', 'candidates', 'round trips, empty feature index', 'round trips, warm feature index', 'by first command (empty index, all requests)'];
  const rows: string[][] = [];
  for (const [store, result] of [['redis', report.redis], ['cluster (3 masters)', report.cluster]] as const) {
    if ('error' in result) {
      rows.push([store, 'NOT MEASURED', result.error, '', '']);
      continue;
    }
    for (const r of result) {
      const cands = r.candidates[0] === r.candidates[1] ? String(r.candidates[0]) : `${r.candidates[0]}-${r.candidates[1]}`;
      rows.push([store, `${r.target} (${cands})`, range(r.coldIndex), range(r.warmIndex), Object.entries(r.byCommand).map(([k, v]) => `${k} ${v}`).join(', ')]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** Whether the count held constant across sizes on every store that was measured. */
/**
 * One server: the same count at every size. A cluster splits each batch by master, and how the auto-pipelining
 * client groups commands varies with timing, so its count varies a little; it holds when no request needs more than
 * one batch per master for each of the single server's batches (3 masters: 3x), at every size.
 */
export function roundTripsConstant(report: RoundTripReport): boolean {
  if ('error' in report.redis) return false;
  const single = report.redis.flatMap((r) => r.coldIndex);
  if (single.length === 0 || !single.every((n) => n === single[0])) return false;
  if ('error' in report.cluster) return true;
  const bound = 3 * single[0]!;
  return report.cluster.every((r) => r.coldIndex.length > 0 && r.coldIndex.every((n) => n <= bound) && r.warmIndex.every((n) => n <= bound));
}
