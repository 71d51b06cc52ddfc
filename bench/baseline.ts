/**
 * Baseline comparison: `BENCH_BASELINE=<git ref> npm run bench` measures, in the same run, the gateway as built from
 * that commit beside the gateway of this working tree, and says whether this one is slower beyond the noise of the
 * measurements themselves ("`npm run bench` shows no regression beyond noise against the numbers before the change
 * (same run, both commits)").
 *
 * The baseline build: a detached `git worktree` of the commit at .tmp/bench-baseline/<full sha> (`.tmp/` is
 * git-ignored; the main working tree's files are not touched), `npm ci --no-audit --no-fund` there and the commit's
 * own `npx tsc -p tsconfig.build.json`. A worktree already at that sha whose build finished (a stamp file beside it,
 * .tmp/bench-baseline/<sha>.built.json) is reused as it is; BENCH_BASELINE_REBUILD=1 installs and compiles again.
 * The build's output goes to .tmp/bench-baseline/<sha>.build.log.
 *
 * What is compared: the cold page and the cached page (bench/run.ts measures both; its functions are reused here
 * through `CompareKit`), on each backend of BENCH_BACKENDS. For each backend both gateways are started the same way
 * (`node <NODE_FLAGS> dist/src/main.js`, same environment, same DATASET_DIR, each with its own cwd, and on Redis each
 * with its own private redis-server so they never share a key), get the same warm-up, and then the builds alternate
 * round by round: baseline round 1, current round 1, baseline round 2, ... (BENCH_ROUNDS rounds) for the cold page,
 * then the same for the cached page (each build's cached round is followed by a bare node:http round answering that
 * build's bytes, as in the main scenario).
 *
 * The verdict, per metric (cold p50 and p99; cached requests/s and its share of the bare server's): each build's
 * rounds give its median (of that metric's own round values, so the p99 median need not be the p50 median's round)
 * and its own spread (largest round / smallest round). The noise of a metric is the larger of the two builds'
 * spreads; "no regression beyond noise" holds when the current median is not worse than the baseline median by more
 * than that factor (for times: current <= baseline x noise; for rates: current >= baseline / noise). With one round
 * there is no spread (noise 1): any difference counts. One slow round (a busy neighbour) widens the noise, and with it
 * what passes: the rounds are printed beside the verdict, and more rounds (BENCH_ROUNDS=5) narrow it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TokenService } from '../src/auth/tokens';
import { startRedisServer } from '../test/helpers/redis-server';
import type { Backend, CachedRound, ColdSession, DatasetChoice, FailureLog, GatewayBuild, GatewayProcess, Reply, Stats } from './run';

// ---------------------------------------------------------------------------------------------------------------
// Settings

export interface CompareSettings {
  /** BENCH_BASELINE: the git ref to compare with (null: no comparison). */
  readonly ref: string | null;
  /** BENCH_ONLY=compare: the comparison alone, without the rest of the bench. */
  readonly only: 'compare' | null;
  /** BENCH_BASELINE_REBUILD=1: run `npm ci` and `tsc` in the baseline worktree even when it was built before. */
  readonly rebuild: boolean;
}

/** Reads BENCH_BASELINE, BENCH_ONLY and BENCH_BASELINE_REBUILD; a bad value stops the bench (exit 2), as in run.ts. */
export function compareSettingsFromEnv(env: NodeJS.ProcessEnv): CompareSettings {
  const fail = (msg: string): never => {
    process.stderr.write(`bench: ${msg}\n`);
    process.exit(2);
  };
  const ref = env.BENCH_BASELINE?.trim() || null;
  // A ref is handed to git as an argument: nothing that git could read as an option.
  if (ref !== null && (ref.startsWith('-') || /\s/.test(ref))) fail(`BENCH_BASELINE must be a git ref such as 0bac7ed (got "${ref}")`);
  const onlyRaw = env.BENCH_ONLY?.trim() || null;
  if (onlyRaw !== null && onlyRaw !== 'compare') fail(`BENCH_ONLY may only be "compare" (got "${onlyRaw}")`);
  if (onlyRaw === 'compare' && ref === null) fail('BENCH_ONLY=compare needs BENCH_BASELINE=<git ref>');
  const rebuildRaw = env.BENCH_BASELINE_REBUILD?.trim() ?? '';
  if (!['', '0', '1'].includes(rebuildRaw)) fail(`BENCH_BASELINE_REBUILD must be 0 or 1 (got "${rebuildRaw}")`);
  return { ref, only: onlyRaw === 'compare' ? 'compare' : null, rebuild: rebuildRaw === '1' };
}

// ---------------------------------------------------------------------------------------------------------------
// The baseline build

export interface BaselineBuild {
  readonly ref: string;
  readonly sha: string;
  /** The worktree (the baseline gateway's cwd). */
  readonly dir: string;
  readonly entry: string;
  /** True when the worktree was already there at this sha. */
  readonly reusedWorktree: boolean;
  /** True when `npm ci` and `tsc` ran in this run (false: an earlier run's build was reused). */
  readonly built: boolean;
  readonly buildSeconds: number;
  /** True when ONNXRUNTIME_NODE_INSTALL=skip was set for `npm ci` (the commit's .npmrc and package.json lack it). */
  readonly onnxruntimeSkipSet: boolean;
  readonly logFile: string;
}

function git(cwd: string, args: string[]): string {
  // GIT_OPTIONAL_LOCKS=0: reading never takes the index lock the engineers' own git commands may need.
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }).trim();
}

/** The repository's worktrees: path -> HEAD sha (null when git lists none). */
function worktrees(repoRoot: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const block of git(repoRoot, ['worktree', 'list', '--porcelain']).split(/\n\s*\n/)) {
    const wt = /^worktree (.+)$/m.exec(block)?.[1];
    if (wt) out.set(canonical(wt), /^HEAD ([0-9a-f]{40})$/m.exec(block)?.[1] ?? null);
  }
  return out;
}

function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** This process's environment for `npm ci` and `tsc` in the worktree, without what an outer `npm run` put in it. */
function buildEnv(worktree: string): { env: NodeJS.ProcessEnv; onnxruntimeSkipSet: boolean } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    // `npm run bench` exports this project's npm configuration (npm_config_*) and package fields to its scripts; the
    // baseline's install must read the baseline's own .npmrc and package.json only.
    if (/^npm_/i.test(key) || key === 'INIT_CWD') delete env[key];
  }
  // ... and puts this project's node_modules/.bin first on PATH: the baseline compiles with its own TypeScript.
  env.PATH = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !/[\\/]node_modules[\\/]\.bin[\\/]?$/.test(dir))
    .join(path.delimiter);
  // NODE_ENV=production would make `npm ci` leave out the devDependencies, TypeScript among them.
  delete env.NODE_ENV;
  // onnxruntime-node's install script downloads CUDA libraries unless told to skip: commits from 3ddb4ff on say so
  // in .npmrc (npm 10) and package.json's allowScripts (npm 11); an older commit gets the variable.
  let handled = false;
  try {
    handled ||= /^\s*onnxruntime-node-install\s*=\s*skip\s*$/m.test(readFileSync(path.join(worktree, '.npmrc'), 'utf8'));
  } catch {
    // no .npmrc
  }
  try {
    const pkg = JSON.parse(readFileSync(path.join(worktree, 'package.json'), 'utf8')) as { allowScripts?: Record<string, unknown> };
    handled ||= pkg.allowScripts?.['onnxruntime-node'] === false;
  } catch {
    // read below by npm itself, which will say what is wrong
  }
  const onnxruntimeSkipSet = !handled && !env.ONNXRUNTIME_NODE_INSTALL;
  if (onnxruntimeSkipSet) env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  return { env, onnxruntimeSkipSet };
}

/** Runs a command in its own process group with its output appended to `logFile`; rejects with the log's tail. */
function runLogged(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
  onCleanup: (fn: () => Promise<void>) => () => Promise<void>,
): Promise<void> {
  const fd = openSync(opts.logFile, 'a');
  writeFileSync(fd, `\n$ (cd ${opts.cwd} && ${[command, ...args].join(' ')})\n`);
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  // Stopped (with the processes it started: its own group, by its pid) if the bench is interrupted meanwhile.
  const stop = onCleanup(async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
  });
  return exited.then(async (r) => {
    await stop();
    if (r.code === 0) return;
    const tail = readFileSync(opts.logFile, 'utf8').split('\n').slice(-25).join('\n');
    const how = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `exit code ${r.code}`;
    throw new Error(`\`${[command, ...args].join(' ')}\` in ${opts.cwd} failed (${how}); the end of ${opts.logFile}:\n${tail}`);
  });
}

/**
 * The baseline worktree at `ref`'s commit, installed and compiled (reused when an earlier run left it so).
 * Throws when the ref is unknown, the folder is not git-ignored, or the install or the build fails.
 */
export async function prepareBaseline(
  settings: CompareSettings,
  repoRoot: string,
  log: (msg: string) => void,
  onCleanup: (fn: () => Promise<void>) => () => Promise<void>,
): Promise<BaselineBuild> {
  const ref = settings.ref!;
  let sha: string;
  try {
    sha = git(repoRoot, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new Error(`BENCH_BASELINE=${ref} is not a commit of ${repoRoot}`);
  }
  const root = path.join(repoRoot, '.tmp', 'bench-baseline');
  // Never leave a worktree where git would see it as new files of the main working tree.
  try {
    git(repoRoot, ['check-ignore', '--quiet', path.relative(repoRoot, root) + '/']);
  } catch {
    throw new Error(`${root} is not git-ignored (.gitignore should list .tmp/): refusing to put a worktree there`);
  }
  mkdirSync(root, { recursive: true });
  const dir = path.join(root, sha);
  const stampFile = path.join(root, `${sha}.built.json`);
  const logFile = path.join(root, `${sha}.build.log`);
  const entry = path.join(dir, 'dist', 'src', 'main.js');

  let reusedWorktree = false;
  const listed = worktrees(repoRoot);
  if (existsSync(dir)) {
    const head = listed.get(canonical(dir));
    if (head === sha) {
      reusedWorktree = true;
    } else {
      // Ours (the folder is named by the sha it must hold) but not at that sha, or not a registered worktree: remade.
      log(`baseline: ${dir} exists but is ${head === undefined ? 'not a worktree of this repository' : `at ${head ?? 'no commit'}`}; removing it`);
      if (head !== undefined) git(repoRoot, ['worktree', 'remove', '--force', dir]);
      rmSync(dir, { recursive: true, force: true });
      rmSync(stampFile, { force: true });
    }
  }
  if (!reusedWorktree) {
    // A worktree folder deleted by hand stays registered until pruned, and `worktree add` would refuse the path.
    git(repoRoot, ['worktree', 'prune']);
    rmSync(stampFile, { force: true });
    log(`baseline: git worktree add --detach ${path.relative(repoRoot, dir)} ${sha}`);
    git(repoRoot, ['worktree', 'add', '--detach', dir, sha]);
  }

  const { env, onnxruntimeSkipSet } = buildEnv(dir);
  const stamped = existsSync(stampFile) && existsSync(entry);
  if (stamped && !settings.rebuild) {
    log(`baseline: ${ref} = ${sha.slice(0, 12)}, reusing the worktree and build at ${path.relative(repoRoot, dir)} (BENCH_BASELINE_REBUILD=1 rebuilds)`);
    return { ref, sha, dir, entry, reusedWorktree, built: false, buildSeconds: 0, onnxruntimeSkipSet, logFile };
  }

  const started = Date.now();
  rmSync(stampFile, { force: true });
  writeFileSync(logFile, `baseline build of ${ref} = ${sha}, ${new Date().toISOString()}\n`);
  log(
    `baseline: ${ref} = ${sha.slice(0, 12)}: npm ci --no-audit --no-fund, then npx tsc -p tsconfig.build.json, in ${path.relative(repoRoot, dir)}` +
      `${onnxruntimeSkipSet ? ' (ONNXRUNTIME_NODE_INSTALL=skip: the commit\'s .npmrc and package.json do not skip onnxruntime-node\'s download)' : ''}; ` +
      `output in ${path.relative(repoRoot, logFile)}…`,
  );
  await runLogged('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, env, logFile }, onCleanup);
  // Its own compiler and configuration; nothing left from an earlier build.
  rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
  // `--no`: the worktree's own TypeScript or nothing (never a download); `--`: tsc's `-p` is not npx's `--package`.
  await runLogged('npx', ['--no', '--', 'tsc', '-p', 'tsconfig.build.json'], { cwd: dir, env, logFile }, onCleanup);
  if (!existsSync(entry)) throw new Error(`the baseline build has no ${entry}; see ${logFile}`);
  const buildSeconds = (Date.now() - started) / 1000;
  writeFileSync(stampFile, `${JSON.stringify({ ref, sha, builtAt: new Date().toISOString(), node: process.version, buildSeconds, onnxruntimeSkipSet }, null, 2)}\n`);
  log(`baseline: built in ${buildSeconds.toFixed(0)} s`);
  return { ref, sha, dir, entry, reusedWorktree, built: true, buildSeconds, onnxruntimeSkipSet, logFile };
}

// ---------------------------------------------------------------------------------------------------------------
// The comparison

/** What the comparison uses of bench/run.ts: its own gateway start-up and cold and cached measurements. */
export interface CompareKit {
  readonly settings: {
    readonly rounds: number;
    readonly seconds: number;
    readonly connections: number;
    readonly coldRequests: number;
    readonly coldConcurrency: number;
    readonly coldWarmup: number;
  };
  readonly backends: readonly Backend[];
  readonly dataset: DatasetChoice;
  readonly failures: FailureLog;
  readonly repoRoot: string;
  /** This working tree's gateway (dist/src/main.js). */
  readonly currentBuild: GatewayBuild;
  log(msg: string): void;
  onCleanup(fn: () => Promise<void>): () => Promise<void>;
  startGateway(backend: Backend, redisUrl: string | null, build: GatewayBuild): Promise<{ gateway: GatewayProcess; env: NodeJS.ProcessEnv }>;
  /** Signs tokens the gateway started with `env` accepts. */
  tokenService(env: NodeJS.ProcessEnv): TokenService;
  openColdSession(backend: Backend, port: number, tokens: TokenService, scenario: string): Promise<ColdSession>;
  prepareCached(port: number, tokens: TokenService): Promise<{ token: string; reference: Reply }>;
  cachedRound(backend: Backend, gatewayPort: number, barePort: number, token: string, reference: Reply, scenarios: readonly [string, string]): Promise<CachedRound>;
  withBareServer<T>(body: string, contentType: string, fn: (port: number) => Promise<T>): Promise<T>;
}

type Role = 'baseline' | 'current';
const ROLES: readonly Role[] = ['baseline', 'current'];

export interface SideReport {
  role: Role;
  /** The commit (baseline) or the working tree at HEAD (current). */
  build: string;
  gatewayPid: number;
  startupMs: number;
  firstRequestMs?: number;
  responseBytes?: number;
  coldRounds: Stats[];
  cachedRounds: { cached: Stats & { differing: number }; bare: Stats; ratio: number }[];
  /** CPU time this gateway used while the other build's rounds ran (from /proc; null where there is none). */
  idleCpu: { cpuMs: number; wallMs: number } | null;
  gatewayWarnings: string[];
}

export interface MetricComparison {
  backend: Backend;
  scenario: 'cold page' | 'cached page';
  metric: string;
  better: 'lower' | 'higher';
  baseline: { rounds: number[]; median: number; spread: number };
  current: { rounds: number[]; median: number; spread: number };
  /** current median / baseline median. */
  ratio: number;
  /** The larger of the two builds' spreads (max/min of its own rounds). */
  noise: number;
  /** No regression beyond noise. */
  holds: boolean;
  /** Better than the baseline beyond noise. */
  improved: boolean;
  verdict: string;
}

export interface BackendComparison {
  backend: Backend;
  ok: boolean;
  error?: string;
  sides: Partial<Record<Role, SideReport>>;
  metrics: MetricComparison[];
}

export interface CompareReport {
  ref: string;
  sha: string;
  worktree: string;
  reusedWorktree: boolean;
  built: boolean;
  buildSeconds: number;
  onnxruntimeSkipSet: boolean;
  current: { dir: string; head: string | null; changedFiles: number | null };
  order: string;
  gateways: string;
  rounds: number;
  settings: CompareKit['settings'];
  rule: string;
  backends: BackendComparison[];
  /** No regression beyond noise on every metric of every backend measured. */
  allHold: boolean;
  /** Every backend measured on both builds, without a failed request. */
  ok: boolean;
  error?: string;
}

export const RULE =
  "noise = the larger of the two builds' spreads, a build's spread being max/min of its own rounds; no regression beyond noise when " +
  'current median <= baseline median x noise (ms: lower is better) or current median >= baseline median / noise (requests/s, share of bare: higher is better)';

const GATEWAYS_NOTE =
  'both gateways started before the first round and left running; the one not measured is idle (see its CPU time below)';

/** The median as run.ts reads it (the middle round; the lower middle for an even count). */
function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : NaN;
}

function spread(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const min = Math.min(...xs);
  return min > 0 ? Math.max(...xs) / min : NaN;
}

function judge(backend: Backend, scenario: MetricComparison['scenario'], metric: string, better: 'lower' | 'higher', b: number[], c: number[]): MetricComparison {
  const baseline = { rounds: b, median: median(b), spread: spread(b) };
  const current = { rounds: c, median: median(c), spread: spread(c) };
  const ratio = current.median / baseline.median;
  const noise = Math.max(baseline.spread, current.spread);
  // NaN (no rounds, a zero) fails every comparison: not measured is not "no regression".
  const holds = better === 'lower' ? ratio <= noise : ratio >= 1 / noise;
  const improved = better === 'lower' ? ratio < 1 / noise : ratio > noise;
  const verdict = Number.isNaN(ratio) || Number.isNaN(noise) ? 'NOT MEASURED' : !holds ? 'REGRESSION beyond noise' : improved ? 'no regression (better beyond noise)' : 'no regression beyond noise';
  return { backend, scenario, metric, better, baseline, current, ratio, noise, holds: holds && !Number.isNaN(noise), improved, verdict };
}

/** CPU time (user + system) of a process so far, in ms, from /proc (Linux, 100 ticks a second); null elsewhere. */
function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": field 3 (state) onwards; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    return Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}

interface Side {
  role: Role;
  build: GatewayBuild;
  gateway: GatewayProcess;
  tokens: TokenService;
  report: SideReport;
  cold?: ColdSession;
  cached?: { token: string; reference: Reply };
}

/**
 * Both builds on each backend, round by round. A backend that cannot be measured on either build is reported with
 * its error, and the next one is measured.
 */
export async function compareBuilds(kit: CompareKit, baseline: BaselineBuild): Promise<CompareReport> {
  const { log, settings } = kit;
  // The same environment for both builds: on top of what run.ts gives every gateway, one JWT secret (each commit's
  // development default could differ, and the bench signs the tokens).
  const sharedEnv: Record<string, string> = process.env.JWT_SECRET ? {} : { JWT_SECRET: randomBytes(24).toString('hex') };
  const builds: Record<Role, GatewayBuild> = {
    baseline: { label: `baseline ${baseline.sha.slice(0, 7)}`, entry: baseline.entry, cwd: baseline.dir, env: sharedEnv },
    current: { ...kit.currentBuild, label: 'current', env: { ...kit.currentBuild.env, ...sharedEnv } },
  };
  const current = currentIdentity(kit.repoRoot);
  const buildName: Record<Role, string> = {
    baseline: `${baseline.ref} (${baseline.sha.slice(0, 12)})`,
    current: `working tree at ${current.head?.slice(0, 12) ?? '?'}${current.changedFiles ? ` with ${current.changedFiles} changed file(s)` : ''}`,
  };
  log(`compare: baseline ${buildName.baseline} against the current ${buildName.current}`);

  const backends: BackendComparison[] = [];
  for (const backend of kit.backends) backends.push(await compareBackend(kit, backend, builds, buildName));
  const ok = backends.every((b) => b.ok);
  return {
    ref: baseline.ref,
    sha: baseline.sha,
    worktree: baseline.dir,
    reusedWorktree: baseline.reusedWorktree,
    built: baseline.built,
    buildSeconds: baseline.buildSeconds,
    onnxruntimeSkipSet: baseline.onnxruntimeSkipSet,
    current: { dir: kit.repoRoot, ...current },
    order: 'each round: baseline, then current (cold page rounds first, then cached page rounds)',
    gateways: GATEWAYS_NOTE,
    rounds: settings.rounds,
    settings: settings,
    rule: RULE,
    backends,
    allHold: ok && backends.every((b) => b.metrics.every((m) => m.holds)),
    ok,
  };
}

function currentIdentity(repoRoot: string): { head: string | null; changedFiles: number | null } {
  let head: string | null = null;
  let changedFiles: number | null = null;
  try {
    head = git(repoRoot, ['rev-parse', 'HEAD']);
    // Read-only (GIT_OPTIONAL_LOCKS=0 in git()): what differs from HEAD in what the gateway is built from.
    const status = git(repoRoot, ['status', '--porcelain', '--', 'src', 'resolvers', 'schema', 'models', 'package.json', 'package-lock.json']);
    changedFiles = status ? status.split('\n').length : 0;
  } catch {
    // not a git checkout: shown as unknown
  }
  return { head, changedFiles };
}

async function compareBackend(kit: CompareKit, backend: Backend, builds: Record<Role, GatewayBuild>, buildName: Record<Role, string>): Promise<BackendComparison> {
  const { log, settings, failures } = kit;
  const result: BackendComparison = { backend, ok: false, sides: {}, metrics: [] };
  const sides: Side[] = [];
  const stops: (() => Promise<void>)[] = [];
  const scenario = (what: string, role: Role) => `compare ${what} (${role})`;
  const failuresBefore = failures.all.reduce((n, f) => n + (f.backend === backend && f.scenario.startsWith('compare ') ? f.count : 0), 0);
  try {
    // Both gateways run for the whole comparison, started one after the other; during a round only the one measured
    // is sent requests. Why not stop one to start the other each round: every start would load the data set again
    // (and on Redis seed it again) and give each round a freshly started process, its JIT cold, unlike the rounds of
    // the main scenarios, which all run in one warm process; an idle gateway holds its memory (its data set) but uses
    // next to no CPU, which is measured and printed (its CPU time while the other build's rounds ran).
    for (const role of ROLES) {
      let redisUrl: string | null = null;
      if (backend === 'redis') {
        // Its own redis-server for each build: the two never share a key, a seed or a memory budget.
        const redis = await startRedisServer();
        stops.push(kit.onCleanup(() => redis.stop()));
        redisUrl = redis.url;
        log(`[compare ${backend}] ${role}: redis-server pid ${redis.pid} on ${redis.url}`);
      }
      log(`[compare ${backend}] ${role}: starting gateway (${buildName[role]})…`);
      const { gateway, env } = await kit.startGateway(backend, redisUrl, builds[role]);
      stops.push(() => gateway.stop());
      log(`[compare ${backend}] ${role}: gateway pid ${gateway.pid} on 127.0.0.1:${gateway.port}, healthy after ${(gateway.startupMs / 1000).toFixed(1)} s`);
      const report: SideReport = {
        role,
        build: buildName[role],
        gatewayPid: gateway.pid,
        startupMs: gateway.startupMs,
        coldRounds: [],
        cachedRounds: [],
        idleCpu: null,
        gatewayWarnings: gateway.warnings,
      };
      sides.push({ role, build: builds[role], gateway, tokens: kit.tokenService(env), report });
      result.sides[role] = report;
    }

    // The same warm-up for each: the first request after boot and BENCH_COLD_WARMUP cold requests (run.ts's own).
    log(
      `[compare ${backend}] cold: each build 1 first + ${settings.coldWarmup} warm-up, then ${settings.rounds} rounds of ${settings.coldRequests} at concurrency ${settings.coldConcurrency}, ` +
        'alternating baseline, current…',
    );
    for (const side of sides) {
      side.cold = await kit.openColdSession(backend, side.gateway.port, side.tokens, scenario('cold', side.role));
      side.report.firstRequestMs = side.cold.firstRequestMs;
    }
    try {
      for (let i = 0; i < settings.rounds; i++) {
        for (const side of sides) {
          const stats = await measured(sides, side, () => side.cold!.round(i).then((r) => r.stats));
          side.report.coldRounds.push(stats);
          log(`[compare ${backend}] cold round ${i + 1}/${settings.rounds}, ${side.role.padEnd(8)}: p50 ${ms(stats.p50)} ms, p99 ${ms(stats.p99)} ms, ${stats.requests} good of ${settings.coldRequests}`);
        }
      }
    } finally {
      for (const side of sides) side.cold?.close();
    }

    // Cached: the same two requests each (the first ranks the feed, the second is the reference bytes), then rounds.
    for (const side of sides) {
      side.cached = await kit.prepareCached(side.gateway.port, side.tokens);
      side.report.responseBytes = Buffer.byteLength(side.cached.reference.body);
    }
    log(
      `[compare ${backend}] cached: ${settings.rounds} rounds, each build's cached page then a bare node:http with its bytes, ` +
        `autocannon ${settings.connections} connections, ${settings.seconds} s each, alternating baseline, current…`,
    );
    await withBareServers(kit, sides, async (barePorts) => {
      for (let i = 0; i < settings.rounds; i++) {
        for (const [k, side] of sides.entries()) {
          const round = await measured(sides, side, () =>
            kit.cachedRound(backend, side.gateway.port, barePorts[k]!, side.cached!.token, side.cached!.reference, [scenario('cached', side.role), scenario('bare', side.role)]),
          );
          side.report.cachedRounds.push({ cached: { ...round.cached.stats, differing: round.cached.differing }, bare: round.bare.stats, ratio: round.ratio });
          log(
            `[compare ${backend}] cached round ${i + 1}/${settings.rounds}, ${side.role.padEnd(8)}: ${num(round.cached.stats.rps)} rps ` +
              `(bare ${num(round.bare.stats.rps)}: ${round.ratio.toFixed(2)}), p50 ${ms(round.cached.stats.p50)} ms`,
          );
        }
      }
    });

    const [b, c] = [sides[0]!.report, sides[1]!.report];
    const m = (name: string, sc: MetricComparison['scenario'], better: 'lower' | 'higher', pick: (r: SideReport) => number[]) =>
      result.metrics.push(judge(backend, sc, name, better, pick(b), pick(c)));
    m('p50 ms', 'cold page', 'lower', (r) => r.coldRounds.map((s) => s.p50));
    m('p99 ms', 'cold page', 'lower', (r) => r.coldRounds.map((s) => s.p99));
    m('requests/s', 'cached page', 'higher', (r) => r.cachedRounds.map((x) => x.cached.rps));
    m('share of bare', 'cached page', 'higher', (r) => r.cachedRounds.map((x) => x.ratio));
    const failedNow = failures.all.reduce((n, f) => n + (f.backend === backend && f.scenario.startsWith('compare ') ? f.count : 0), 0) - failuresBefore;
    result.ok = failedNow === 0;
    if (failedNow) result.error = `${failedNow} request(s) failed (see the failures below)`;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: [compare ${backend}] FAILED: ${result.error}\n`);
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
  return result;
}

/** Runs `fn` (one build's round) and adds the other gateways' CPU time meanwhile to their `idleCpu`. */
async function measured<T>(sides: Side[], active: Side, fn: () => Promise<T>): Promise<T> {
  const idle = sides.filter((s) => s !== active).map((s) => ({ s, cpu: cpuMsOf(s.gateway.pid) }));
  const started = Date.now();
  const out = await fn();
  const wallMs = Date.now() - started;
  for (const { s, cpu } of idle) {
    const now = cpuMsOf(s.gateway.pid);
    if (cpu === null || now === null) continue;
    const acc = (s.report.idleCpu ??= { cpuMs: 0, wallMs: 0 });
    acc.cpuMs += now - cpu;
    acc.wallMs += wallMs;
  }
  return out;
}

/** A bare server per side, each answering that side's reference bytes. */
function withBareServers<T>(kit: CompareKit, sides: Side[], fn: (ports: number[]) => Promise<T>, ports: number[] = []): Promise<T> {
  if (ports.length === sides.length) return fn(ports);
  const { reference } = sides[ports.length]!.cached!;
  return kit.withBareServer(reference.body, reference.contentType || 'application/json', (port) => withBareServers(kit, sides, fn, [...ports, port]));
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const num = (n: number) => (Number.isNaN(n) ? '-' : n >= 100 ? Math.round(n).toString() : n.toFixed(2));

function value(metric: string, n: number): string {
  return metric.endsWith('ms') ? ms(n) : metric === 'requests/s' ? num(n) : Number.isNaN(n) ? '-' : n.toFixed(3);
}

/** The side-by-side table, the rule, and a line per build and backend; for the log and the README. */
export function compareTable(report: CompareReport): string {
  const header = ['backend', 'scenario', 'metric', 'baseline', 'current', 'cur/base', 'baseline rounds', 'current rounds', 'noise', 'verdict'];
  const rows: string[][] = [];
  for (const b of report.backends) {
    if (b.metrics.length === 0) {
      rows.push([b.backend, '(failed)', '-', '-', '-', '-', '-', '-', '-', `NOT MEASURED: ${(b.error ?? '').split('\n')[0]!.slice(0, 100)}`]);
      continue;
    }
    for (const m of b.metrics) {
      rows.push([
        b.backend,
        m.scenario,
        m.metric,
        value(m.metric, m.baseline.median),
        value(m.metric, m.current.median),
        Number.isNaN(m.ratio) ? '-' : m.ratio.toFixed(3),
        m.baseline.rounds.map((x) => value(m.metric, x)).join(' / '),
        m.current.rounds.map((x) => value(m.metric, x)).join(' / '),
        Number.isNaN(m.noise) ? '-' : `${m.noise.toFixed(3)}x`,
        m.verdict,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = new Set([3, 4, 5, 8]);
  const fmt = (r: string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const lines = [
    `Baseline comparison: baseline ${report.ref} (${report.sha.slice(0, 12)}, worktree ${report.worktree}) against the current working tree ` +
      `(${report.current.head?.slice(0, 12) ?? '?'}${report.current.changedFiles ? ` + ${report.current.changedFiles} changed file(s)` : ''}); ` +
      `${report.rounds} round(s) each, ${report.order}; ${report.gateways}.`,
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(fmt),
    `rule: ${report.rule}.`,
  ];
  if (report.rounds < 2) lines.push('note: with one round a build has no spread (noise 1x), so any difference reads as beyond noise; use BENCH_ROUNDS >= 3.');
  for (const b of report.backends) {
    for (const role of ROLES) {
      const s = b.sides[role];
      if (!s) continue;
      const idle = s.idleCpu ? `; while the other build was measured it used ${Math.round(s.idleCpu.cpuMs)} ms of CPU in ${(s.idleCpu.wallMs / 1000).toFixed(1)} s (${((100 * s.idleCpu.cpuMs) / Math.max(1, s.idleCpu.wallMs)).toFixed(1)}% of a core)` : '';
      const differing = s.cachedRounds.reduce((n, r) => n + r.cached.differing, 0);
      lines.push(
        `[${b.backend}] ${role} ${s.build}: pid ${s.gatewayPid}, healthy after ${(s.startupMs / 1000).toFixed(1)} s, first request ${s.firstRequestMs === undefined ? '-' : ms(s.firstRequestMs)} ms, ` +
          `cached page ${s.responseBytes ?? '-'} bytes${differing ? ` (${differing} cached responses differed from its reference bytes)` : ''}${idle}` +
          (s.gatewayWarnings.length ? `; ${s.gatewayWarnings.length} warning line(s) logged, e.g. ${s.gatewayWarnings[0]!.slice(0, 160)}` : ''),
      );
    }
    if (b.error) lines.push(`[${b.backend}] ${b.metrics.length ? 'NOT VALID' : 'NOT MEASURED'}: ${b.error}`);
  }
  const regressions = report.backends.flatMap((b) => b.metrics.filter((m) => !m.holds));
  lines.push(
    !report.ok
      ? `verdict: NOT VALID (a backend could not be measured on both builds, or requests failed)${regressions.length ? `; beyond noise: ${regressions.map((m) => `${m.backend} ${m.scenario} ${m.metric}`).join(', ')}` : ''}`
      : report.allHold
        ? `verdict: no regression beyond noise (every scenario, every backend of ${report.backends.map((b) => b.backend).join(', ')})`
        : `verdict: REGRESSION beyond noise in ${regressions.map((m) => `${m.backend} ${m.scenario} ${m.metric} (${m.ratio.toFixed(3)} against noise ${m.noise.toFixed(3)}x)`).join(', ')}`,
  );
  return lines.join('\n');
}
