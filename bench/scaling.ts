/**
 * How cost grows (issue 6, scenario 6), run by `npm run bench`:
 *   - cold-request latency at 100, 1,000, 5,000 and 10,000 candidates (one corpus, the home pipeline's source limits
 *     scaled, the default learned ranker): latency must grow no faster than linearly in scored candidates;
 *   - cold-request latency at about 1,000 candidates over synthetic corpora of 100k, 1M and 5M posts: it must not
 *     grow with the corpus;
 *   - bytes per post in the embedded store (each corpus) and in Redis (100k posts), and so how many posts fit in
 *     24 GiB of either.
 *
 * Each corpus is loaded in its own child process (`node dist/bench/scaling.js --worker …`, a large heap, --expose-gc)
 * so that one's memory does not weigh on the next; the worker serves an in-process gateway on a free loopback port
 * and sends it one cold request at a time (a viewer never seen before), so the numbers are the request path's own.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { seedDataOf, seedEmbeddedStore } from '../src/bootstrap';
import type { Corpus } from '../src/content';
import { generateSyntheticCorpus } from '../src/dataset/synthetic';
import { EmbeddedStore } from '../src/store/embedded';
import { RedisStore } from '../src/store/redis';
import { startTestGateway } from '../test/helpers/gateway';
import { startRedisServer } from '../test/helpers/redis-server';
import { homePipelineFor } from './round-trips';

export const CANDIDATE_STEPS = [100, 1000, 5000, 10_000] as const;
export const CORPUS_STEPS = [100_000, 1_000_000, 5_000_000] as const;
/**
 * Communities of every corpus step: as many as the real data set has (100), whatever the corpus size, so the steps
 * differ in posts per community only. The candidate sweep keeps the 40 it was written with: it compares candidate
 * counts within one corpus.
 */
const CORPUS_COMMUNITIES = 100;
const CANDIDATE_COMMUNITIES = 40;
const GIB24 = 24 * 2 ** 30;

export interface LatencyRow {
  readonly posts: number;
  readonly target: number;
  /** Candidates the ranker scored (the funnel's `scored`), median over the requests. */
  readonly scored: number;
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
}

export interface WorkerReport {
  readonly posts: number;
  readonly loadSeconds: number;
  /**
   * Heap and resident bytes per post of the loaded embedded store (after GC, the generator's arrays released). The
   * heap figure counts array buffers too: the store keeps its posts' numbers and feature rows in typed arrays.
   */
  readonly heapBytesPerPost: number;
  readonly rssBytesPerPost: number;
  readonly rows: LatencyRow[];
}

export interface ScalingReport {
  readonly candidates: WorkerReport | { error: string };
  readonly corpus: (WorkerReport | { error: string })[];
  readonly redisBytesPerPost: { posts: number; bytesPerPost: number } | { error: string };
  readonly linearInCandidates: boolean | null;
  readonly flatInCorpus: boolean | null;
}

const QUERY = '{ personalizedFeed(first: 25) { edges { rank node { id title } } funnel { scored } } }';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** In the child: load `posts` as a serving process does, then time cold requests at each candidate target. */
async function worker(posts: number, targets: readonly number[], requests: number, communities: number | undefined): Promise<WorkerReport> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  gc();
  const before = process.memoryUsage();
  const t0 = Date.now();
  let corpus: Corpus | null = generateSyntheticCorpus({ posts, seed: 11, communities });
  const store = new EmbeddedStore();
  await seedEmbeddedStore(store, corpus);
  const info = corpus.info;
  const communityList = corpus.communities;
  corpus = null; // the store keeps what it needs; the generator's array goes
  gc();
  const after = process.memoryUsage();
  const loadSeconds = (Date.now() - t0) / 1000;
  const shell: Corpus = { info, posts: [], communities: communityList };
  const rows: LatencyRow[] = [];
  for (const target of targets) {
    const gw = await startTestGateway({ corpus: shell, backend: 'embedded', store, pipelines: homePipelineFor(target), env: { RESPONSE_CACHE_MB: '0' } });
    try {
      const latencies: number[] = [];
      const scored: number[] = [];
      for (let i = -5; i < requests; i++) {
        const token = await gw.token(`scaling-${posts}-${target}-${i}-${process.pid}`, ['mle']);
        const started = process.hrtime.bigint();
        const { status, body } = await gw.query(QUERY, { token });
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const feed = body.data?.personalizedFeed;
        if (status !== 200 || body.errors?.length || !feed) throw new Error(`cold request failed: HTTP ${status} ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
        if (i < 0) continue; // warm-up: JIT, first model use
        latencies.push(ms);
        scored.push(feed.funnel.scored as number);
      }
      latencies.sort((a, b) => a - b);
      scored.sort((a, b) => a - b);
      rows.push({ posts, target, scored: percentile(scored, 50), requests, p50: percentile(latencies, 50), p99: percentile(latencies, 99) });
    } finally {
      await gw.gateway.close();
      await gw.gateway.feeds.idle();
      await gw.rankers.close();
    }
  }
  return {
    posts,
    loadSeconds,
    heapBytesPerPost: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / posts,
    rssBytesPerPost: (after.rss - before.rss) / posts,
    rows,
  };
}

/** Runs one worker in its own process and reads its JSON report (the last line of its stdout). */
function runWorker(posts: number, targets: readonly number[], requests: number, communities: number): Promise<WorkerReport> {
  // An allowance per post above the store's bytes per post (which this scenario measures and prints), plus room to
  // work: the heap limit grows with the corpus.
  const heapMb = Math.max(2048, Math.ceil((posts * 2600) / 2 ** 20) + 1024);
  const args = [`--max-old-space-size=${heapMb}`, '--expose-gc', __filename, '--worker', String(posts), targets.join(','), String(requests), String(communities)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as WorkerReport);
      else reject(new Error(`scaling worker (${posts} posts) exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Bytes per post in Redis: used_memory before and after seeding `posts` synthetic posts into a private server. */
async function redisBytesPerPost(posts: number): Promise<{ posts: number; bytesPerPost: number }> {
  const redis = await startRedisServer();
  try {
    const usedMemory = () => {
      const info = execFileSync('redis-cli', ['-u', redis.url, 'info', 'memory'], { encoding: 'utf8' });
      return Number(/used_memory:(\d+)/.exec(info)?.[1]);
    };
    const before = usedMemory();
    const store = new RedisStore({ url: redis.url, keyPrefix: 'bench-bytes:' });
    await store.connect();
    try {
      await store.seed(seedDataOf(generateSyntheticCorpus({ posts, seed: 11 })));
    } finally {
      await store.close();
    }
    return { posts, bytesPerPost: (usedMemory() - before) / posts };
  } finally {
    await redis.stop();
  }
}

const attempt = async <T>(fn: () => Promise<T>): Promise<T | { error: string }> => {
  try {
    return await fn();
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0]! };
  }
};

export async function scalingScenario(log: (line: string) => void, opts: { requests?: number; corpusSteps?: readonly number[] } = {}): Promise<ScalingReport> {
  const requests = opts.requests ?? 100;
  log(`[scaling] candidates ${CANDIDATE_STEPS.join(' / ')} over 100,000 synthetic posts (${CANDIDATE_COMMUNITIES} communities), ${requests} cold requests each…`);
  const candidates = await attempt(() => runWorker(100_000, CANDIDATE_STEPS, requests, CANDIDATE_COMMUNITIES));
  const corpus: (WorkerReport | { error: string })[] = [];
  for (const posts of opts.corpusSteps ?? CORPUS_STEPS) {
    log(`[scaling] corpus of ${posts.toLocaleString('en')} synthetic posts (${CORPUS_COMMUNITIES} communities), about 1,000 candidates, ${requests} cold requests…`);
    corpus.push(await attempt(() => runWorker(posts, [1000], requests, CORPUS_COMMUNITIES)));
  }
  log('[scaling] bytes per post in Redis (100,000 posts)…');
  const redis = await attempt(() => redisBytesPerPost(100_000));

  let linear: boolean | null = null;
  if (!('error' in candidates)) {
    // Per scored candidate, the cost at 5,000 and 10,000 must not exceed the cost at 1,000 (20% noise allowance):
    // fixed costs make small lists dearer per candidate, so only growth beyond linear fails.
    const perCandidate = (r: LatencyRow) => r.p50 / Math.max(1, r.scored);
    const base = candidates.rows.find((r) => r.target === 1000);
    linear = base ? candidates.rows.filter((r) => r.target > 1000).every((r) => perCandidate(r) <= perCandidate(base) * 1.2) : null;
  }
  let flat: boolean | null = null;
  const measured = corpus.filter((c): c is WorkerReport => !('error' in c));
  if (measured.length === corpus.length && measured.length >= 2) {
    // The largest corpus's p50 within 25% (or 3 ms) of the smallest's, at the same candidate count.
    const first = measured[0]!.rows[0]!.p50;
    flat = measured.every((m) => m.rows[0]!.p50 <= Math.max(first * 1.25, first + 3));
  }
  return { candidates, corpus, redisBytesPerPost: redis, linearInCandidates: linear, flatInCorpus: flat };
}

const fmt = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

export function scalingTable(r: ScalingReport): string {
  const lines: string[] = [];
  const header = ['corpus posts', 'candidates (target)', 'scored (p50)', 'cold p50 ms', 'cold p99 ms', 'p50 µs / scored'];
  const rows: string[][] = [];
  const add = (w: WorkerReport | { error: string }, label: string) => {
    if ('error' in w) {
      rows.push([label, 'NOT MEASURED', w.error, '', '', '']);
      return;
    }
    for (const row of w.rows) rows.push([w.posts.toLocaleString('en'), String(row.target), String(row.scored), fmt(row.p50), fmt(row.p99), ((row.p50 * 1000) / Math.max(1, row.scored)).toFixed(1)]);
  };
  add(r.candidates, '100,000');
  for (const c of r.corpus) add(c, 'corpus');
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  lines.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  lines.push('');
  const memRows: string[] = [];
  for (const c of r.corpus) {
    if ('error' in c) continue;
    memRows.push(
      `  embedded, ${c.posts.toLocaleString('en')} posts: ${Math.round(c.heapBytesPerPost)} B/post heap, ${Math.round(c.rssBytesPerPost)} B/post resident ` +
        `(loaded in ${c.loadSeconds.toFixed(0)} s) -> about ${(GIB24 / Math.max(1, c.rssBytesPerPost) / 1e6).toFixed(1)}M posts in 24 GiB`,
    );
  }
  if ('error' in r.redisBytesPerPost) memRows.push(`  redis: NOT MEASURED (${r.redisBytesPerPost.error})`);
  else memRows.push(`  redis, ${r.redisBytesPerPost.posts.toLocaleString('en')} posts: ${Math.round(r.redisBytesPerPost.bytesPerPost)} B/post (used_memory) -> about ${(GIB24 / r.redisBytesPerPost.bytesPerPost / 1e6).toFixed(1)}M posts in a 24 GiB Redis`);
  lines.push('bytes per post:', ...memRows);
  return lines.join('\n');
}

if (process.argv[2] === '--worker') {
  const [posts, targets, requests, communities] = process.argv.slice(3);
  worker(Number(posts), targets!.split(',').map(Number), Number(requests), communities ? Number(communities) : undefined).then(
    (report) => {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

