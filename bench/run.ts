/**
 * `npm run bench`: every scenario of the speed issue, each printed with its needed value and whether it holds, and
 * all of it written to bench/results.json.
 *
 * For each backend (embedded, and Redis on a private redis-server) it starts the built gateway as a child process
 * (`node dist/src/main.js`), waits for /healthz, and measures over loopback:
 *   - memory: resident size after loading, after a warm-up over 1,000 viewers, after 100,000 more requests
 *     (bench/memory.ts);
 *   - cold page: personalizedFeed(first: 25) for a viewer never seen before (a fresh user id per request), so every
 *     request ranks a new feed with the home feed's default ranker; then five more by an mle caller to read how many
 *     candidates were scored;
 *   - cached page: the same query for one viewer again and again (autocannon), served from the ranked snapshot;
 *   - bare: a node:http server answering the same bytes, with the same autocannon settings, as the ceiling.
 * Then, in process: Redis round trips per cold request (bench/round-trips.ts), the xgboost scorer against native
 * xgboost (bench/scorer.ts), and how cost grows with candidates and corpus size, with bytes per post
 * (bench/scaling.ts). It exits non-zero when any request failed or a backend could not be measured.
 *
 * Environment: DATASET_DIR (else ../shared/data/reddit-top-2.5-million beside the repository, else the synthetic
 * corpus), BENCH_COLD_REQUESTS (200 per round), BENCH_COLD_CONCURRENCY (4), BENCH_COLD_WARMUP (20), BENCH_SECONDS (10),
 * BENCH_CONNECTIONS (4), BENCH_BACKENDS (embedded,redis), BENCH_MEMORY_REQUESTS (100000; 0 skips),
 * BENCH_ROUNDS (3: cached and bare alternate, BENCH_SECONDS each, and the median round's ratio is the verdict; the
 * cold scenario measures as many rounds of BENCH_COLD_REQUESTS, and its verdict reads the median round),
 * BENCH_SCALING_REQUESTS (100: the corpus verdict compares medians taken in different processes minutes apart),
 * BENCH_CORPUS_SIZES (100000,1000000,5000000), BENCH_TIMEOUT_SECONDS (3600: the whole run's bound, with room to spare).
 *
 * Baseline comparison (bench/baseline.ts): BENCH_BASELINE=<git ref> (e.g. 0bac7ed) also measures the gateway as built
 * from that commit, in the same run: a detached `git worktree` at .tmp/bench-baseline/<full sha> (git-ignored; reused
 * when it is already at that sha and built; BENCH_BASELINE_REBUILD=1 reinstalls and recompiles it), `npm ci` and its
 * own `tsc -p tsconfig.build.json` there; then the cold page and the cached page on each backend of BENCH_BACKENDS,
 * the two builds alternating round by round (BENCH_ROUNDS), printed side by side with a verdict, "no regression
 * beyond noise", whose noise is the spread of each build's own rounds; written to bench/results.json under
 * `baseline`. The rest of the bench runs as usual after it, unless BENCH_ONLY=compare (the comparison alone). It adds
 * both builds' start-up and rounds on each backend (and, the first time a commit is compared, its install and build).
 * A regression verdict does not change the exit status (as with every other verdict); failed requests or a build
 * or gateway that could not be measured do.
 */
import { roundTripsConstant, roundTripsScenario, roundTripsTable, type RoundTripReport } from './round-trips';
import { compareBuilds, compareSettingsFromEnv, compareTable, prepareBaseline, type BaselineBuild, type CompareKit, type CompareReport } from './baseline';
import { benchScorer } from './scorer';
import { memoryScenario, residentBytes, type MemoryReport } from './memory';
import { CORPUS_STEPS, scalingScenario, scalingTable, type ScalingReport } from './scaling';
import { readFileSync } from 'node:fs';
import { FEED_PIPELINES } from '../src/pipeline/feeds';
import { loadXgboostModelSync } from '../src/rankers/xgboost/model';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { TokenService } from '../src/auth/tokens';
import { loadConfig, NODE_FLAGS, repoRoot } from '../src/config';
// The same private redis-server the tests use (own port and folder, stopped by its pid).
import { freePort, startRedisServer, type TestRedis as BenchRedis } from '../test/helpers/redis-server';

export type Backend = 'embedded' | 'redis';

// ---------------------------------------------------------------------------------------------------------------
// Settings

function intEnv(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`bench: ${name} must be an integer from ${min} to ${max} (got "${raw}")\n`);
    process.exit(2);
  }
  return n;
}

const SETTINGS = {
  coldRequests: intEnv('BENCH_COLD_REQUESTS', 200, 1, 100_000),
  coldConcurrency: intEnv('BENCH_COLD_CONCURRENCY', 4, 1, 256),
  coldWarmup: intEnv('BENCH_COLD_WARMUP', 20, 0, 10_000),
  seconds: intEnv('BENCH_SECONDS', 10, 1, 600),
  connections: intEnv('BENCH_CONNECTIONS', 4, 1, 1024),
  timeoutSeconds: intEnv('BENCH_TIMEOUT_SECONDS', 3600, 10, 7200),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  memoryRequests: intEnv('BENCH_MEMORY_REQUESTS', 100_000, 0, 10_000_000),
  scalingRequests: intEnv('BENCH_SCALING_REQUESTS', 100, 1, 10_000),
  pageSize: 25,
};

const BACKENDS: Backend[] = (() => {
  const raw = process.env.BENCH_BACKENDS?.trim();
  if (!raw) return ['embedded', 'redis'];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const b of list) {
    if (b !== 'embedded' && b !== 'redis') {
      process.stderr.write(`bench: BENCH_BACKENDS lists "${b}"; valid: embedded, redis\n`);
      process.exit(2);
    }
  }
  return list as Backend[];
})();

/** BENCH_BASELINE, BENCH_ONLY, BENCH_BASELINE_REBUILD: the baseline comparison (bench/baseline.ts). */
const COMPARE = compareSettingsFromEnv(process.env);

/** BENCH_CORPUS_SIZES: the synthetic corpora of the cost-growth scenario (default 100k, 1M and 5M posts). */
const CORPUS_SIZES: number[] = (() => {
  const raw = process.env.BENCH_CORPUS_SIZES?.trim();
  if (!raw) return [...CORPUS_STEPS];
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1000 || n > 50_000_000)) {
    process.stderr.write(`bench: BENCH_CORPUS_SIZES must list integers from 1000 to 50000000 (got "${raw}")\n`);
    process.exit(2);
  }
  return list;
})();

const GATEWAY_ENTRY = path.join(repoRoot, 'dist', 'src', 'main.js');
const RESULTS_FILE = path.join(repoRoot, 'bench', 'results.json');
const DEFAULT_DATASET_DIR = path.resolve(repoRoot, '..', 'shared', 'data', 'reddit-top-2.5-million');

const FEED_QUERY = `query BenchFeed($first: Int!) {
  personalizedFeed(first: $first) {
    edges { cursor rank score node { id title url score numComments createdAt community { name } } }
    pageInfo { hasNextPage endCursor }
    rankedBy { id version }
  }
}`;
const REQUEST_BODY = JSON.stringify({ operationName: 'BenchFeed', query: FEED_QUERY, variables: { first: SETTINGS.pageSize } });
const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

// ---------------------------------------------------------------------------------------------------------------
// Clean-up: everything started is registered here and stopped in `finally`, on a signal, or by the watchdog.

const cleanups = new Set<() => Promise<void>>();

function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  const once = () =>
    (done ??= fn().catch((err: unknown) => {
      process.stderr.write(`bench: clean-up failed: ${String(err)}\n`);
    }));
  const wrapped = async () => {
    cleanups.delete(wrapped);
    await once();
  };
  cleanups.add(wrapped);
  return wrapped;
}

async function cleanupAll(): Promise<void> {
  await Promise.all([...cleanups].map((fn) => fn()));
}

let aborting = false;
async function abort(reason: string, code: number): Promise<never> {
  if (!aborting) {
    aborting = true;
    process.stderr.write(`\nbench: ${reason}; stopping everything it started\n`);
    await cleanupAll();
  }
  process.exit(code);
}

// ---------------------------------------------------------------------------------------------------------------
// Dataset

export interface DatasetChoice {
  dir: string | null;
  source: string;
}

function chooseDataset(): DatasetChoice {
  const fromEnv = process.env.DATASET_DIR;
  if (fromEnv) {
    const dir = path.resolve(fromEnv);
    // An explicit setting that is wrong is an error, not a silent fallback.
    if (!isDirectory(dir)) {
      process.stderr.write(`bench: DATASET_DIR=${fromEnv} is not a folder\n`);
      process.exit(2);
    }
    return { dir, source: `DATASET_DIR=${dir}` };
  }
  if (isDirectory(DEFAULT_DATASET_DIR)) return { dir: DEFAULT_DATASET_DIR, source: `real data set at ${DEFAULT_DATASET_DIR}` };
  return { dir: null, source: 'synthetic corpus (no real data set found)' };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway as a child process

export interface GatewayProcess {
  readonly port: number;
  readonly pid: number;
  readonly startupMs: number;
  /** Log lines at warn or above seen since start (the expected development-secret warning excluded). */
  readonly warnings: string[];
  tail(): string;
  stop(): Promise<void>;
}

/**
 * Which build of the gateway a child process runs: by default this working tree's (dist/src/main.js, cwd the
 * repository); the baseline comparison (bench/baseline.ts) passes another worktree's entry and folder. `env` is added
 * to the child's environment after everything else (e.g. the same JWT_SECRET for both builds).
 */
export interface GatewayBuild {
  readonly label: string;
  readonly entry: string;
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string>>;
}

const CURRENT_BUILD: GatewayBuild = { label: 'current', entry: GATEWAY_ENTRY, cwd: repoRoot };

async function startGateway(
  backend: Backend,
  dataset: DatasetChoice,
  redisUrl: string | null,
  build: GatewayBuild = CURRENT_BUILD,
): Promise<{ gateway: GatewayProcess; env: NodeJS.ProcessEnv }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' };
  // Nothing inherited may point the child elsewhere: only what this backend needs.
  delete env.DATASET_DIR;
  delete env.REDIS_URL;
  delete env.REDIS_KEY_PREFIX;
  if (dataset.dir) env.DATASET_DIR = dataset.dir;
  if (backend === 'redis') env.REDIS_URL = redisUrl!;
  Object.assign(env, build.env);

  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, build.entry], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: build.cwd });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: string[] = [];
  const warnings: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      if (line.includes('JWT_SECRET is not set')) continue;
      if (warnings.length < 50) warnings.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
  });
  const tail = () => lines.join('\n');

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`gateway (${build.label}, ${backend}) exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${tail()}`);
    }
    if (await healthy(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gateway (${build.label}, ${backend}) did not answer /healthz within 90 s:\n${tail()}`);
    }
    await sleep(100);
  }
  return { gateway: { port, pid: child.pid!, startupMs: Date.now() - started, warnings, tail, stop }, env };
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

export interface Reply {
  status: number;
  body: string;
  contentType: string;
  ms: number;
}

function post(agent: http.Agent, port: number, body: string, token: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        timeout: 30_000,
        headers: { 'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: String(res.headers['content-type'] ?? ''),
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Why a feed response is not a good page, or null when it is one. */
function checkFeedReply(r: Pick<Reply, 'status' | 'body'>): string | null {
  if (r.status !== 200) return `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
  let parsed: { data?: { personalizedFeed?: { edges?: unknown[] } } | null; errors?: unknown[] };
  try {
    parsed = JSON.parse(r.body) as typeof parsed;
  } catch {
    return `not JSON: ${r.body.slice(0, 300)}`;
  }
  if (parsed.errors?.length) return `GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`;
  const edges = parsed.data?.personalizedFeed?.edges;
  if (!Array.isArray(edges)) return `no personalizedFeed.edges in: ${r.body.slice(0, 300)}`;
  if (edges.length !== SETTINGS.pageSize) return `page has ${edges.length} edges, expected ${SETTINGS.pageSize}`;
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

export interface Stats {
  requests: number;
  failures: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
  rps: number;
  seconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // Nearest rank.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function summarize(latencies: number[], failures: number, seconds: number): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    requests: sorted.length,
    failures,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : NaN,
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    rps: seconds > 0 ? sorted.length / seconds : NaN,
    seconds,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

interface Failure {
  scenario: string;
  backend: Backend;
  count: number;
  examples: string[];
}

export class FailureLog {
  readonly all: Failure[] = [];
  record(scenario: string, backend: Backend, message: string): void {
    let f = this.all.find((x) => x.scenario === scenario && x.backend === backend);
    if (!f) this.all.push((f = { scenario, backend, count: 0, examples: [] }));
    f.count++;
    if (f.examples.length < 5 && !f.examples.includes(message)) f.examples.push(message);
  }
  count(scenario: string, backend: Backend): number {
    return this.all.find((x) => x.scenario === scenario && x.backend === backend)?.count ?? 0;
  }
}

let userSeq = 0;
/** A user id no gateway has seen: unique per run and per request. */
function freshUserId(tag: string): string {
  return `bench-${tag}-${process.pid}-${Date.now().toString(36)}-${(userSeq++).toString(36)}`;
}

/**
 * Cold pages: a fresh viewer per request, at the cold concurrency. After the first request and the warm-up, the
 * measured requests run in `SETTINGS.rounds` rounds back to back; the verdict reads the median round (by p50), as the
 * cached scenario's does, and every round is printed with the pooled figures. Why rounds: this machine is shared,
 * and a round of BENCH_COLD_REQUESTS requests is short; a neighbour's burst during one of them moved a single-round
 * p50 far between runs of the same build, and one such round does not move the median round.
 */
async function coldScenario(
  backend: Backend,
  port: number,
  tokens: TokenService,
  failures: FailureLog,
): Promise<{ stats: Stats; rounds: Stats[]; pooled: Stats; firstRequestMs: number }> {
  const session = await openColdSession(backend, port, tokens, failures, 'cold');
  try {
    const rounds: Stats[] = [];
    const all: number[] = [];
    let allSeconds = 0;
    for (let round = 0; round < SETTINGS.rounds; round++) {
      const { stats, latencies } = await session.round(round);
      rounds.push(stats);
      all.push(...latencies);
      allSeconds += stats.seconds;
    }
    const median = [...rounds].sort((a, b) => a.p50 - b.p50)[Math.floor((rounds.length - 1) / 2)]!;
    return { stats: median, rounds, pooled: summarize(all, failures.count('cold', backend), allSeconds), firstRequestMs: session.firstRequestMs };
  } finally {
    session.close();
  }
}

/** A gateway made ready for cold rounds: its first request and warm-up done, every round's tokens signed. */
export interface ColdSession {
  readonly firstRequestMs: number;
  /** Measured round `index` (from 0, below `SETTINGS.rounds`): `SETTINGS.coldRequests` fresh viewers. */
  round(index: number): Promise<{ stats: Stats; latencies: number[] }>;
  close(): void;
}

/**
 * The cold scenario's set-up, apart from its rounds so that the baseline comparison can run one build's round, then
 * the other's: signs every token, sends the first request after boot and the warm-up. Failures are recorded under
 * `scenario` and `backend`.
 */
async function openColdSession(backend: Backend, port: number, tokens: TokenService, failures: FailureLog, scenario: string): Promise<ColdSession> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SETTINGS.coldConcurrency });
  try {
    // Sign every token before timing anything: signing is the client's cost, not the gateway's.
    const total = 1 + SETTINGS.coldWarmup + SETTINGS.rounds * SETTINGS.coldRequests;
    const tokenList = await Promise.all(Array.from({ length: total }, () => tokens.sign(freshUserId('cold'))));

    // The first request after boot, on its own: it pays for lazy initialisation and an unoptimised JIT.
    const first = await post(agent, port, REQUEST_BODY, tokenList[0]!);
    const firstProblem = checkFeedReply(first);
    if (firstProblem) failures.record(scenario, backend, firstProblem);

    // Warm-up (not measured), then the measured rounds; all at the same concurrency, driven by autocannon: node's
    // own HTTP client spent enough CPU per request, on the same cores the gateway uses, to weigh on a cold request's
    // measured cost; autocannon spends far less. Each request carries the next unused token.
    const runBatch = (from: number, count: number, measure: boolean) => coldCannon(port, tokenList.slice(from, from + count), (problem) => {
      if (measure) failures.record(scenario, backend, problem);
    });
    await runBatch(1, SETTINGS.coldWarmup, false);
    return {
      firstRequestMs: first.ms,
      async round(index) {
        if (!Number.isInteger(index) || index < 0 || index >= SETTINGS.rounds) throw new Error(`cold round ${index} is outside 0-${SETTINGS.rounds - 1}`);
        const before = failures.count(scenario, backend);
        const { latencies, seconds } = await runBatch(1 + SETTINGS.coldWarmup + index * SETTINGS.coldRequests, SETTINGS.coldRequests, true);
        return { stats: summarize(latencies, failures.count(scenario, backend) - before, seconds), latencies };
      },
      close: () => agent.destroy(),
    };
  } catch (err) {
    agent.destroy();
    throw err;
  }
}

/** How many candidates a cold home request scores: five more cold requests by an mle caller, reading the funnel. */
async function coldCandidates(port: number, tokens: TokenService): Promise<[number, number]> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const scored: number[] = [];
    const body = JSON.stringify({ query: `{ personalizedFeed(first: ${SETTINGS.pageSize}) { funnel { scored } } }` });
    for (let i = 0; i < 5; i++) {
      const r = await post(agent, port, body, await tokens.sign(freshUserId('funnel'), { roles: ['mle'] }));
      const n = (JSON.parse(r.body) as { data?: { personalizedFeed?: { funnel?: { scored?: number } } } }).data?.personalizedFeed?.funnel?.scored;
      if (typeof n !== 'number') throw new Error(`funnel request failed: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      scored.push(n);
    }
    return [Math.min(...scored), Math.max(...scored)];
  } finally {
    agent.destroy();
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The home feed's default ranker and, when it is an xgboost model, its size: what the cold scenario ranks with. */
function homeModel(): { ranker: string; kind: string; trees: number | null; maxDepth: number | null; features: number | null } {
  const ranker = FEED_PIPELINES.home.scorer.defaultRanker;
  const config = JSON.parse(readFileSync(path.join(repoRoot, 'models', 'rankers.json'), 'utf8')) as { rankers: { id: string; kind: string; params?: { model?: string } }[] };
  const variant = config.rankers.find((r) => r.id === ranker);
  if (!variant || variant.kind !== 'xgboost' || !variant.params?.model) return { ranker, kind: variant?.kind ?? 'unknown', trees: null, maxDepth: null, features: null };
  // The gateway's own reader: the same trees, depths and feature count it scores with.
  const model = loadXgboostModelSync(path.join(repoRoot, 'models', variant.params.model));
  return { ranker, kind: 'xgboost', trees: model.numTrees, maxDepth: Math.max(...model.treeDepth), features: model.numFeature };
}

interface Verdict {
  scenario: string;
  measured: string;
  needed: string;
  holds: boolean | null;
}

function verdictTable(rows: Verdict[]): string {
  const header = ['scenario', 'measured', 'needed', 'holds'];
  const cells = rows.map((r) => [r.scenario, r.measured, r.needed, r.holds === null ? 'NOT MEASURED' : r.holds ? 'HOLDS' : 'DOES NOT HOLD']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface CannonOutcome {
  stats: Stats;
  /** Responses whose bytes differed from the reference body (not failures: e.g. a snapshot rebuilt mid-run). */
  differing: number;
  autocannon: { p50: number; p99: number; rpsAverage: number; errors: number; timeouts: number; non2xx: number; duration: number };
}

/** Runs autocannon against 127.0.0.1:port with the bench settings, checking every response. */
/** A response body without its per-request `extensions.requestId` (everything else must match byte for byte). */
function withoutRequestId(body: string): string {
  return body.replace(/"requestId":"[0-9a-f-]{36}",?/, '');
}

/**
 * Cold requests with autocannon: exactly one request per token (so one fresh viewer each), at the cold concurrency.
 * Every response is checked as a feed page (`checkFeedReply`); the latencies of good ones are returned.
 */
async function coldCannon(port: number, tokenList: readonly string[], onFailure: (message: string) => void): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  if (tokenList.length === 0) return { latencies, seconds: 0 };
  let next = 0;
  let lastOk = false;
  // Timed here: autocannon's own duration is in whole seconds, too coarse for a two-second round.
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: Math.min(SETTINGS.coldConcurrency, tokenList.length),
    pipelining: 1,
    amount: tokenList.length,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', accept: ACCEPT },
        body: REQUEST_BODY,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokenList[next++ % tokenList.length]}` } }),
        onResponse: (status, body) => {
          const problem = checkFeedReply({ status, body });
          lastOk = problem === null;
          if (problem) onFailure(problem);
        },
      },
    ],
  });
  let lastResponse = started;
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    lastResponse = process.hrtime.bigint();
    if (lastOk) latencies.push(responseTime);
    lastOk = false;
  });
  instance.on('reqError', (err) => onFailure(`request error: ${err.message}`));
  await instance;
  // Up to the last response: with a fixed number of requests autocannon notices the end on its one-second tick, so
  // its own end (and duration) can come most of a second after the last answer.
  const seconds = Number(lastResponse - started) / 1e9;
  if (next !== tokenList.length) onFailure(`autocannon sent ${next} cold requests for ${tokenList.length} tokens (one each expected)`);
  return { latencies, seconds };
}

async function cannon(
  port: number,
  token: string,
  expectedBody: string,
  onFailure: (message: string) => void,
): Promise<CannonOutcome> {
  // Latencies of good responses only. autocannon calls a request's onResponse and then emits 'response' for the same
  // response, synchronously and in that order, so the verdict of the one can be read by the other.
  const latencies: number[] = [];
  let differing = 0;
  let lastOk = false;
  let failed = 0;
  const fail = (message: string) => {
    failed++;
    onFailure(message);
  };
  const expected = withoutRequestId(expectedBody);
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: SETTINGS.connections,
    pipelining: 1,
    duration: SETTINGS.seconds,
    // Shorter than the run, so a request that hangs is counted as a timeout instead of vanishing at the end.
    timeout: Math.max(1, Math.min(5, Math.floor(SETTINGS.seconds / 2))),
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', accept: ACCEPT, authorization: `Bearer ${token}` },
        body: REQUEST_BODY,
        onResponse: (status, body) => {
          lastOk = true;
          // Every response carries its own extensions.requestId: compare the bytes without it.
          if (status === 200 && withoutRequestId(body) === expected) return;
          // Only a response that differs from the reference is parsed and checked.
          const problem = checkFeedReply({ status, body });
          if (problem) {
            lastOk = false;
            fail(problem);
          } else {
            differing++;
          }
        },
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (lastOk) latencies.push(responseTime);
    lastOk = false;
  });
  // Connection errors and timeouts, one event each.
  instance.on('reqError', (err) => fail(`request error: ${err.message}`));
  const result = await instance;
  if (latencies.length === 0 && failed === 0) fail('no response at all during the run');
  return {
    stats: summarize(latencies, failed, result.duration),
    differing,
    autocannon: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      rpsAverage: result.requests.average,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      duration: result.duration,
    },
  };
}

async function withBareServer<T>(body: string, contentType: string, fn: (port: number) => Promise<T>): Promise<T> {
  const worker = new Worker(path.join(__dirname, 'bare-server.js'), { workerData: { body, contentType } });
  const stop = onCleanup(async () => {
    const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    const killer = setTimeout(() => void worker.terminate(), 2000);
    await gone;
    clearTimeout(killer);
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('error', reject);
    });
    return await fn(port);
  } finally {
    await stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One backend

interface BackendResult {
  backend: Backend;
  ok: boolean;
  error?: string;
  gatewayPid?: number;
  startupMs?: number;
  firstRequestMs?: number;
  responseBytes?: number;
  cold?: Stats;
  cached?: Stats & { differing: number; autocannon: CannonOutcome['autocannon'] };
  bare?: Stats & { autocannon: CannonOutcome['autocannon'] };
  /** Gateway requests per second on the cached page over the bare server's. */
  cachedOverBare?: number;
  /** The ratio of each round, in the order run (the verdict is their median). */
  cachedRatios?: number[];
  /** Candidates the ranker scored per cold request (the funnel's `scored`, read by an mle caller), min and max. */
  coldScored?: [number, number];
  /** Every measured round of the cold scenario (`cold` is the median one) and all of them pooled. */
  coldRounds?: Stats[];
  coldPooled?: Stats;
  memory?: MemoryReport;
  gatewayWarnings?: string[];
}

/** Cached: one viewer; the first request ranks the feed, the second is the reference cached response. */
async function prepareCached(port: number, tokens: TokenService): Promise<{ token: string; reference: Reply }> {
  const token = await tokens.sign(freshUserId('cached'));
  const agent = new http.Agent({ keepAlive: false });
  try {
    const warm = await post(agent, port, REQUEST_BODY, token);
    const warmProblem = checkFeedReply(warm);
    if (warmProblem) throw new Error(`cached warm-up request failed: ${warmProblem}`);
    const reference = await post(agent, port, REQUEST_BODY, token);
    const refProblem = checkFeedReply(reference);
    if (refProblem) throw new Error(`cached reference request failed: ${refProblem}`);
    return { token, reference };
  } finally {
    agent.destroy();
  }
}

export interface CachedRound {
  cached: CannonOutcome;
  bare: CannonOutcome;
  /** Gateway requests per second over the bare server's, in this round. */
  ratio: number;
}

/**
 * One round of the cached scenario: the gateway on `gatewayPort` for BENCH_SECONDS, then the bare server on
 * `barePort` (answering the same reference bytes) for as long. Failures are recorded under `scenarios` (the
 * gateway's, the bare server's) and `backend`.
 */
async function cachedRound(
  backend: Backend,
  gatewayPort: number,
  barePort: number,
  token: string,
  reference: Reply,
  failures: FailureLog,
  scenarios: readonly [cached: string, bare: string],
): Promise<CachedRound> {
  const cached = await cannon(gatewayPort, token, reference.body, (m) => failures.record(scenarios[0], backend, m));
  const bare = await cannon(barePort, token, reference.body, (m) => failures.record(scenarios[1], backend, m));
  return { cached, bare, ratio: cached.stats.rps / bare.stats.rps };
}

async function benchBackend(backend: Backend, dataset: DatasetChoice, failures: FailureLog): Promise<BackendResult> {
  let redis: BenchRedis | null = null;
  let stopRedis: (() => Promise<void>) | null = null;
  let gateway: GatewayProcess | null = null;
  const result: BackendResult = { backend, ok: false };
  try {
    if (backend === 'redis') {
      redis = await startRedisServer();
      const r = redis;
      stopRedis = onCleanup(() => r.stop());
      log(`[${backend}] redis-server pid ${redis.pid} on ${redis.url}`);
    }
    log(`[${backend}] starting gateway…`);
    const started = await startGateway(backend, dataset, redis?.url ?? null);
    gateway = started.gateway;
    result.gatewayPid = gateway.pid;
    result.startupMs = gateway.startupMs;
    log(`[${backend}] gateway pid ${gateway.pid} on 127.0.0.1:${gateway.port}, healthy after ${(gateway.startupMs / 1000).toFixed(1)} s`);
    // The secret the child actually uses, read the way it reads it (the development default unless JWT_SECRET is set).
    const tokens = new TokenService(loadConfig(started.env).jwtSecret);

    // Memory first, so that "after loading" is the process as it starts serving.
    const rssAfterLoad = residentBytes(gateway.pid);
    if (SETTINGS.memoryRequests > 0) {
      log(`[${backend}] memory: resident ${mib(rssAfterLoad)} MiB after loading; ${SETTINGS.memoryRequests} requests over 1,000 viewers…`);
      result.memory = await memoryScenario(gateway.port, gateway.pid, rssAfterLoad, tokens, { requests: SETTINGS.memoryRequests });
      if (result.memory.failures > 0) failures.record('memory', backend, `${result.memory.failures} of the memory scenario's requests failed`);
    }

    log(`[${backend}] cold: 1 first + ${SETTINGS.coldWarmup} warm-up + ${SETTINGS.rounds} rounds of ${SETTINGS.coldRequests} measured requests at concurrency ${SETTINGS.coldConcurrency}…`);
    const cold = await coldScenario(backend, gateway.port, tokens, failures);
    result.cold = cold.stats;
    result.coldRounds = cold.rounds;
    result.coldPooled = cold.pooled;
    result.firstRequestMs = cold.firstRequestMs;
    result.coldScored = await coldCandidates(gateway.port, tokens);

    const { token, reference } = await prepareCached(gateway.port, tokens);
    result.responseBytes = Buffer.byteLength(reference.body);
    // Cached and bare alternate, round after round, so that a slow spell of this shared machine falls on both sides
    // of some round instead of on one side of the only one; the verdict is the median round's ratio.
    const rounds: CachedRound[] = [];
    const gatewayPort = gateway.port;
    await withBareServer(reference.body, reference.contentType || 'application/json', async (barePort) => {
      for (let i = 1; i <= SETTINGS.rounds; i++) {
        log(`[${backend}] round ${i}/${SETTINGS.rounds}: cached, then bare node:http with the same ${result.responseBytes}-byte body; autocannon, ${SETTINGS.connections} connections, ${SETTINGS.seconds} s each…`);
        rounds.push(await cachedRound(backend, gatewayPort, barePort, token, reference, failures, ['cached', 'bare']));
      }
    });
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;
    const differing = rounds.reduce((n, r) => n + r.cached.differing, 0);
    result.cached = { ...median.cached.stats, differing, autocannon: median.cached.autocannon };
    result.bare = { ...median.bare.stats, autocannon: median.bare.autocannon };
    result.cachedOverBare = median.ratio;
    result.cachedRatios = rounds.map((r) => r.ratio);
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: [${backend}] FAILED: ${result.error}\n`);
  } finally {
    if (gateway) {
      result.gatewayWarnings = [...gateway.warnings];
      await gateway.stop();
    }
    if (stopRedis) await stopRedis();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const num = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n >= 100 ? Math.round(n).toString() : n.toFixed(1));

function table(results: BackendResult[]): string {
  const header = ['scenario', 'backend', 'requests', 'failures', 'p50 ms', 'p99 ms', 'mean ms', 'rps'];
  const rows: string[][] = [];
  for (const r of results) {
    if (!r.ok && !r.cold) {
      rows.push(['(failed)', r.backend, '-', '-', '-', '-', '-', '-']);
      continue;
    }
    const add = (scenario: string, s: Stats | undefined) => {
      if (s) rows.push([scenario, r.backend, String(s.requests), String(s.failures), ms(s.p50), ms(s.p99), ms(s.mean), num(s.rps)]);
    };
    r.coldRounds?.forEach((round, i) => add(`cold page, round ${i + 1}${round === r.cold ? ' (median)' : ''}`, round));
    add('cold page, pooled', r.coldPooled);
    add('cached page', r.cached);
    add('bare node:http', r.bare);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** What the baseline comparison (bench/baseline.ts) uses of this file: the same start-up and measurements. */
function compareKit(dataset: DatasetChoice, failures: FailureLog): CompareKit {
  const { rounds, seconds, connections, coldRequests, coldConcurrency, coldWarmup } = SETTINGS;
  return {
    settings: { rounds, seconds, connections, coldRequests, coldConcurrency, coldWarmup },
    backends: BACKENDS,
    dataset,
    failures,
    repoRoot,
    currentBuild: CURRENT_BUILD,
    log,
    onCleanup,
    startGateway: (backend, redisUrl, build) => startGateway(backend, dataset, redisUrl, build),
    // The secret the child actually uses, read the way it reads it.
    tokenService: (env) => new TokenService(loadConfig(env).jwtSecret),
    openColdSession: (backend, port, tokens, scenario) => openColdSession(backend, port, tokens, failures, scenario),
    prepareCached,
    cachedRound: (backend, gatewayPort, barePort, token, reference, scenarios) => cachedRound(backend, gatewayPort, barePort, token, reference, failures, scenarios),
    withBareServer,
  };
}

/** The banner of a run whose numbers are not valid, on stderr, with why. */
function printFailed(reasons: string[], failures: FailureLog): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n`);
  process.stderr.write('BENCHMARK FAILED: these numbers are not valid.\n');
  for (const r of reasons) process.stderr.write(`  ${r}\n`);
  for (const f of failures.all) {
    process.stderr.write(`  ${f.count} failed request(s) in "${f.scenario}" on ${f.backend}:\n`);
    for (const e of f.examples) process.stderr.write(`      ${e}\n`);
  }
  process.stderr.write(`${bar}\n`);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const watchdog = setTimeout(() => void abort(`took longer than BENCH_TIMEOUT_SECONDS=${SETTINGS.timeoutSeconds}`, 3), SETTINGS.timeoutSeconds * 1000);
  watchdog.unref();
  process.once('SIGINT', () => void abort('interrupted (SIGINT)', 130));
  process.once('SIGTERM', () => void abort('terminated (SIGTERM)', 143));

  if (!isFile(GATEWAY_ENTRY)) {
    process.stderr.write(`bench: ${GATEWAY_ENTRY} is missing: build first (tsc -p tsconfig.bench.json)\n`);
    process.exit(2);
  }

  const cpus = os.cpus();
  const machine = {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: startedAt.toISOString(),
  };
  const dataset = chooseDataset();

  log('ranking gateway benchmark');
  log(`machine: ${machine.cpuModel} x ${machine.cpuCount} (${machine.totalMemGiB} GiB), ${machine.platform}, node ${machine.node}, ${machine.date}`);
  if (dataset.dir) {
    log(`dataset: ${dataset.source}`);
  } else {
    log('');
    log(`dataset: NO REAL DATA SET FOUND (no DATASET_DIR, nothing at ${DEFAULT_DATASET_DIR}).`);
    log('         Falling back to the SYNTHETIC corpus: these numbers are not comparable with real-data runs.');
    log('');
  }
  log(
    `settings: cold: autocannon, ${SETTINGS.rounds} rounds of ${SETTINGS.coldRequests} requests at concurrency ${SETTINGS.coldConcurrency}, a fresh viewer each (after ${SETTINGS.coldWarmup} warm-up); ` +
      `cached and bare: autocannon ${SETTINGS.connections} connections, ${SETTINGS.rounds} alternating rounds of ${SETTINGS.seconds} s each; personalizedFeed(first: ${SETTINGS.pageSize})`,
  );
  log('note: load generator, gateway (and redis-server) share this machine; numbers are loopback-only.');
  // The baseline is installed and compiled before anything is measured (npm ci and tsc load the machine).
  let baseline: BaselineBuild | null = null;
  if (COMPARE.ref) {
    log(`compare: BENCH_BASELINE=${COMPARE.ref}${COMPARE.only ? ' (BENCH_ONLY=compare: the comparison alone)' : ', then the rest of the bench'}`);
    try {
      baseline = await prepareBaseline(COMPARE, repoRoot, log, onCleanup);
    } catch (err) {
      clearTimeout(watchdog);
      process.stderr.write(`bench: the baseline ${COMPARE.ref} could not be prepared: ${err instanceof Error ? err.message : String(err)}\n`);
      await cleanupAll();
      process.exit(1);
    }
  }
  // How busy the CPUs are before anything starts (the load average lags by a minute, so measure it).
  const idleCpuBusy = await cpuBusyFraction(1000);
  const busy = idleCpuBusy > 0.25;
  if (busy) {
    log(`WARNING: the machine is busy before the benchmark starts (CPUs ${Math.round(idleCpuBusy * 100)}% busy over 1 s, load average ${machine.loadAverage.join(' ')}):`);
    log('         other processes compete for the CPU and the numbers below will be low and noisy.');
  }
  log('');

  const failures = new FailureLog();

  // The baseline comparison first, on a machine not yet warmed by the other scenarios.
  let comparison: CompareReport | null = null;
  if (baseline) {
    try {
      comparison = await compareBuilds(compareKit(dataset, failures), baseline);
    } finally {
      await cleanupAll();
    }
    log('');
    log(compareTable(comparison));
    log('');
  }
  if (comparison && COMPARE.only === 'compare') {
    clearTimeout(watchdog);
    const ok = comparison.ok && failures.all.length === 0;
    const report = {
      ok,
      only: 'compare',
      machine: { ...machine, loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100), cpuBusyBeforeStart: Math.round(idleCpuBusy * 1000) / 1000, busyAtStart: busy },
      dataset: { dir: dataset.dir, synthetic: dataset.dir === null, source: dataset.source },
      settings: { ...SETTINGS, backends: BACKENDS, query: FEED_QUERY, nodeEnv: 'development' },
      baseline: comparison,
      failures: failures.all,
      finishedAt: new Date().toISOString(),
    };
    writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
    log(`results written to ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
    if (!ok) {
      printFailed(comparison.backends.filter((b) => b.error).map((b) => `compare ${b.backend}: ${b.error}`), failures);
      process.exitCode = 1;
    }
    return;
  }

  const results: BackendResult[] = [];
  try {
    for (const backend of BACKENDS) results.push(await benchBackend(backend, dataset, failures));
  } finally {
    await cleanupAll();
    clearTimeout(watchdog);
  }

  // Redis round trips per cold request at 100, 1,000 and 5,000 candidates (needed: the same at each size).
  let roundTrips: RoundTripReport | { error: string };
  try {
    roundTrips = await roundTripsScenario(log);
  } catch (err) {
    roundTrips = { error: (err as Error).message };
  }

  // The scorer against native xgboost, same model and rows, same run (needed: at least 0.6x).
  let scorer: { ratio: number; rowsPerSecOurs: number; rowsPerSecNative: number; details: string } | { error: string };
  try {
    scorer = await benchScorer();
  } catch (err) {
    scorer = { error: (err as Error).message };
  }

  // How cost grows with candidates and with the corpus; bytes per post (each corpus in its own process).
  let scaling: ScalingReport | { error: string };
  try {
    scaling = await scalingScenario(log, { requests: SETTINGS.scalingRequests, corpusSteps: CORPUS_SIZES });
  } catch (err) {
    scaling = { error: (err as Error).message };
  }

  log('');
  log(table(results));
  log('');
  if ('error' in roundTrips) log(`Redis round trips per cold request: NOT MEASURED (${roundTrips.error})`);
  else {
    log('Redis round trips per cold home request (counted at the connection: batches written to Redis sockets):');
    log(roundTripsTable(roundTrips));
    log(`round trips per cold request do not grow with the candidates: ${roundTripsConstant(roundTrips) ? 'HOLDS' : 'DOES NOT HOLD'}`);
  }
  log('');
  if ('error' in scorer) log(`xgboost scorer vs native: NOT MEASURED (${scorer.error})`);
  else {
    log(scorer.details);
    log(`xgboost scorer vs native xgboost: ${scorer.ratio.toFixed(2)}x (needed: at least 0.6x) ${scorer.ratio >= 0.6 ? 'HOLDS' : 'DOES NOT HOLD'}`);
  }
  log('');
  for (const r of results) {
    if (!r.ok) continue;
    log(
      `[${r.backend}] start-up ${ms((r.startupMs ?? 0) / 1000)} s; first request after boot ${ms(r.firstRequestMs)} ms; ` +
        `cached page ${r.responseBytes} bytes; gateway rps / bare rps = ${r.cachedOverBare!.toFixed(3)} ` +
        `(${num(r.cached!.rps)} / ${num(r.bare!.rps)})` +
        (r.cached!.differing ? `; ${r.cached!.differing} cached responses differed from the reference bytes` : ''),
    );
    if (r.gatewayWarnings?.length) {
      log(`[${r.backend}] gateway logged ${r.gatewayWarnings.length} warning/error line(s), e.g.:`);
      for (const w of r.gatewayWarnings.slice(0, 3)) log(`    ${w}`);
    }
  }
  const loadAtEnd = os.loadavg().map((n) => Math.round(n * 100) / 100);
  log(
    `machine: ${machine.cpuModel}, ${machine.cpuCount} CPUs, node ${machine.node}, ${machine.date}; ` +
      `load average at start ${machine.loadAverage.join(' ')}, at end ${loadAtEnd.join(' ')}` +
      (busy ? ' (BUSY MACHINE: numbers unreliable)' : ''),
  );

  log('');
  if ('error' in scaling) log(`cost growth: NOT MEASURED (${scaling.error})`);
  else {
    log('How cold-request cost grows (one request at a time, in process, synthetic corpora, the default home ranker):');
    log(scalingTable(scaling));
  }

  // Every scenario with its needed value, and whether it holds in this run.
  const model = homeModel();
  const verdicts: Verdict[] = [];
  for (const r of results) {
    if (!r.ok) {
      verdicts.push({ scenario: `1-2. ${r.backend}`, measured: `FAILED: ${r.error ?? ''}`.slice(0, 80), needed: '-', holds: false });
      continue;
    }
    verdicts.push({
      scenario: `1. cached page, ${r.backend}`,
      measured: `${r.cachedOverBare!.toFixed(2)} of bare node:http, the median of ${r.cachedRatios!.length} rounds (${r.cachedRatios!.map((x) => x.toFixed(2)).join(', ')}); median round ${num(r.cached!.rps)} / ${num(r.bare!.rps)} rps, p50 ${ms(r.cached!.p50)} ms, p99 ${ms(r.cached!.p99)} ms`,
      needed: 'at least 0.4 (goal 0.6)',
      holds: r.cachedOverBare! >= 0.4,
    });
    const scored = r.coldScored ?? [0, 0];
    const modelOk = model.kind === 'xgboost' && (model.trees ?? 0) >= 300 && (model.maxDepth ?? 0) >= 6 && (model.features ?? 0) >= 30;
    verdicts.push({
      scenario: `2. cold home feed, ${r.backend}`,
      measured:
        `p50 ${ms(r.cold!.p50)} ms, p99 ${ms(r.cold!.p99)} ms at ${SETTINGS.coldConcurrency} clients, the median of ${r.coldRounds!.length} rounds ` +
        `(p50/p99 ${r.coldRounds!.map((x) => `${ms(x.p50)}/${ms(x.p99)}`).join(', ')}; pooled ${ms(r.coldPooled!.p50)}/${ms(r.coldPooled!.p99)}); ` +
        `${scored[0]}-${scored[1]} candidates scored by ${model.ranker} (${model.trees} trees, depth ${model.maxDepth}, ${model.features} features)`,
      needed: r.backend === 'embedded' ? 'p50 <= 30 ms, p99 <= 80 ms; >= 1000 candidates (goal 15/40)' : '(shown; needed on embedded)',
      holds: r.backend === 'embedded' ? r.cold!.p50 <= 30 && r.cold!.p99 <= 80 && scored[0] >= 1000 && modelOk : null,
    });
    if (r.memory) {
      verdicts.push({
        scenario: `5. memory, ${r.backend}`,
        measured: `${mib(r.memory.rssAfterLoad)} MiB loaded, peak ${mib(r.memory.rssAfterWarmup)} MiB over the last ${r.memory.window} of ${r.memory.warmupRequests} warm-up requests, peak ${mib(r.memory.rssAfterRequests)} MiB over the last ${r.memory.window} of ${r.memory.requests} more: ${(r.memory.growth * 100).toFixed(1)}%`,
        needed: 'at most 10% growth over 100,000 requests (warm to end)',
        holds: r.memory.holds && r.memory.requests >= 100_000,
      });
    }
  }
  verdicts.push(
    'error' in scorer
      ? { scenario: '3. scorer vs native xgboost', measured: `NOT MEASURED: ${scorer.error}`, needed: 'at least 0.6x', holds: null }
      : { scenario: '3. scorer vs native xgboost', measured: `${scorer.ratio.toFixed(2)}x`, needed: 'at least 0.6x', holds: scorer.ratio >= 0.6 },
  );
  verdicts.push(
    'error' in roundTrips
      ? { scenario: '4. Redis round trips per cold request', measured: `NOT MEASURED: ${roundTrips.error}`, needed: 'constant in candidates', holds: null }
      : {
          scenario: '4. Redis round trips per cold request',
          measured: 'error' in roundTrips.redis ? roundTrips.redis.error : roundTrips.redis.map((row) => `${row.target}: ${Math.max(...row.warmIndex)}`).join(', '),
          needed: 'the same at 100, 1,000 and 5,000 candidates',
          holds: roundTripsConstant(roundTrips),
        },
  );
  if (!('error' in scaling)) {
    verdicts.push({ scenario: '6. cost vs candidates', measured: 'see the table above (p50 per scored candidate)', needed: 'no faster than linear (per-candidate cost at 5k, 10k <= 1.2x that at 1k)', holds: scaling.linearInCandidates });
    verdicts.push({ scenario: '6. cost vs corpus size', measured: `${CORPUS_SIZES.map((n) => n.toLocaleString('en')).join(' / ')} posts at ~1,000 candidates`, needed: 'flat (largest p50 <= 1.25x smallest, or +3 ms)', holds: scaling.flatInCorpus });
  } else {
    verdicts.push({ scenario: '6. cost growth', measured: `NOT MEASURED: ${scaling.error}`, needed: '-', holds: null });
  }
  if (comparison) {
    const regressions = comparison.backends.flatMap((b) => b.metrics.filter((m) => !m.holds).map((m) => `${m.backend} ${m.scenario} ${m.metric}`));
    verdicts.push({
      scenario: `7. against BENCH_BASELINE=${comparison.ref}`,
      measured: comparison.ok
        ? comparison.backends.map((b) => b.metrics.map((m) => `${b.backend} ${m.scenario === 'cold page' ? 'cold' : 'cached'} ${m.metric} ${m.ratio.toFixed(2)}x (noise ${m.noise.toFixed(2)}x)`).join(', ')).join('; ')
        : `NOT VALID: ${comparison.backends.map((b) => b.error).filter(Boolean).join('; ').split('\n')[0]!.slice(0, 100)}`,
      needed: 'no regression beyond noise (current/baseline within the larger spread of the two builds\' rounds)',
      holds: comparison.ok ? comparison.allHold && regressions.length === 0 : null,
    });
    log('');
    log(compareTable(comparison));
  }
  log('');
  log('Every scenario, its needed value, and whether it holds in this run:');
  log(verdictTable(verdicts));

  const failedBackends = results.filter((r) => !r.ok);
  const failedRequests = failures.all.reduce((n, f) => n + f.count, 0);
  const ok = failedBackends.length === 0 && failedRequests === 0 && !('error' in roundTrips) && roundTripsConstant(roundTrips) && (comparison?.ok ?? true);
  const report = {
    ok,
    machine: { ...machine, loadAverageAtEnd: loadAtEnd, cpuBusyBeforeStart: Math.round(idleCpuBusy * 1000) / 1000, busyAtStart: busy },
    dataset: { dir: dataset.dir, synthetic: dataset.dir === null, source: dataset.source },
    settings: { ...SETTINGS, backends: BACKENDS, query: FEED_QUERY, nodeEnv: 'development' },
    results,
    scorer,
    roundTrips,
    scaling,
    homeModel: model,
    verdicts,
    baseline: comparison ?? undefined,
    allHold: verdicts.every((v) => v.holds !== false),
    failures: failures.all,
    finishedAt: new Date().toISOString(),
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  log(`results written to ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);

  if (!ok) {
    const reasons = failedBackends.map((r) => `backend ${r.backend}: ${r.error}`);
    if ('error' in roundTrips) reasons.push(`round trips: ${roundTrips.error}`);
    else if (!roundTripsConstant(roundTrips)) reasons.push('round trips per cold request grew with the candidates');
    for (const b of comparison?.backends ?? []) if (b.error) reasons.push(`compare ${b.backend}: ${b.error}`);
    printFailed(reasons, failures);
    process.exitCode = 1;
  }
}

/** Share of all CPUs' time spent not idle over the next `ms` milliseconds. */
async function cpuBusyFraction(msWindow: number): Promise<number> {
  const sample = () =>
    os.cpus().reduce(
      (acc, c) => {
        const t = c.times;
        acc.idle += t.idle;
        acc.total += t.user + t.nice + t.sys + t.idle + t.irq;
        return acc;
      },
      { idle: 0, total: 0 },
    );
  const a = sample();
  await sleep(msWindow);
  const b = sample();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function sleep(msTime: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msTime));
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanupAll();
  process.exit(1);
});
