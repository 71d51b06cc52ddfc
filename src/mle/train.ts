/**
 * `npm run train`: the loop an MLE repeats, in one command. Serve home feeds to simulated viewers through the
 * gateway's own pipeline, log the features served, draw clicks from the documented click model, train a
 * LambdaMART model with xgboost, and evaluate it against the built-in rankers on held-out viewers.
 *
 *   npm run train [-- --viewers 5000 --sessions 6 --list 50 --holdout 0.2 --trees 300 --depth 6 --out models/home-lambdamart.json]
 *
 * Data: DATASET_DIR when set (the real Reddit data), else the synthetic corpus. Python: Debian's /usr/bin/python3 with
 * python3-xgboost (override with XGBOOST_PYTHON).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { seedStore } from '../bootstrap';
import { loadConfig, repoRoot } from '../config';
import type { Corpus } from '../content';
import { loadCorpus } from '../dataset';
import { buildFeatureBatch } from '../features/batch';
import { createLoaders } from '../features/loaders';
import { FEATURES, type FeatureInput } from '../features/registry';
import { ViewerProfiles } from '../features/viewer-profiles';
import { seededRandom } from '../features/viewers';
import { FEED_PIPELINES } from '../pipeline/feeds';
import { retrieveCandidates } from '../pipeline/retrieve';
import { rankOrder, scoreCandidates } from '../rankers/scoring';
import type { Ranker } from '../rankers/ranker';
import { RankerRegistry } from '../rankers/registry';
import { EmbeddedStore } from '../store/embedded';
import { createLogger } from '../telemetry/logger';
import { groupNdcg } from './ndcg';
import { attractiveness, clickModelContext, examination, relevanceGrade, type ClickModelContext } from './click-model';

export interface TrainOptions {
  viewers: number;
  sessions: number;
  list: number;
  holdout: number;
  trees: number;
  depth: number;
  out: string;
  /** The ranker whose lists are served while logging (the current default). */
  loggingRanker: string;
  seed: number;
  python: string;
  workDir: string;
  log: (line: string) => void;
}

export interface TrainReport {
  readonly data: string;
  readonly trainViewers: number;
  readonly heldOutViewers: number;
  readonly trainRows: number;
  readonly clicks: number;
  readonly features: readonly string[];
  readonly trees: number;
  readonly depth: number;
  /** NDCG@10 on held-out viewers' full candidate sets, graded by the click model's attractiveness. */
  readonly ndcgAt10: Readonly<Record<string, number>>;
  readonly model: string;
  readonly date: string;
}

/** Share of each logged list drawn at random from the candidates (exploration traffic). */
export const EXPLORATION_SHARE = 0.4;

const csvValue = (v: number) => (Number.isNaN(v) ? '' : String(v));

export async function train(corpus: Corpus, rankers: RankerRegistry, opts: TrainOptions): Promise<TrainReport> {
  const store = new EmbeddedStore();
  await seedStore(store, corpus);
  const profiles = new ViewerProfiles(store);
  const logger = createLogger('silent');
  const logging = rankers.get(opts.loggingRanker);
  if (!logging) throw new Error(`logging ranker "${opts.loggingRanker}" is not loaded`);
  const cm: ClickModelContext = clickModelContext(corpus.posts);
  const names = FEATURES.map((f) => f.name);
  const trainFile = path.join(opts.workDir, 'train.csv');
  const out = createWriteStream(trainFile);
  out.write(`label,group,${names.join(',')}\n`);
  const heldOut: { inputs: FeatureInput[]; rels: number[] }[] = [];
  let rows = 0;
  let clicks = 0;
  let trainViewers = 0;
  const split = seededRandom(`split:${opts.seed}`);

  for (let v = 0; v < opts.viewers; v++) {
    const userId = `sim-${opts.seed}-${v}`;
    const loaders = createLoaders(store, profiles);
    const viewer = await loaders.viewers.load(userId);
    const home = FEED_PIPELINES.home;
    const { inputs } = await retrieveCandidates(home, { viewer, community: null, contextPost: null }, loaders, { store, logger }, home.deadlineMs);
    if (inputs.length === 0) continue;
    if (split() < opts.holdout) {
      heldOut.push({ inputs: [...inputs], rels: inputs.map((i) => relevanceGrade(attractiveness(viewer, i.post, cm))) });
      continue;
    }
    trainViewers++;
    // Exploration: 60% of each logged list is the logging ranker's top, 40% is drawn uniformly from the rest of the
    // candidates. Without it the model only ever sees what the current ranker already likes, and cannot rank the
    // full candidate set it will face when serving.
    const order = rankOrder(inputs, await scoreCandidates(logging, inputs));
    const exploit = Math.ceil(opts.list * (1 - EXPLORATION_SHARE));
    const rest = order.slice(exploit);
    const pick = seededRandom(`explore:${userId}`);
    for (let i = rest.length - 1; i > 0; i--) {
      const j = Math.floor(pick() * (i + 1));
      [rest[i], rest[j]] = [rest[j]!, rest[i]!];
    }
    const served = [...order.slice(0, exploit), ...rest.slice(0, opts.list - exploit)];
    const batch = buildFeatureBatch(names, served.map((i) => inputs[i]!));
    for (let s = 0; s < opts.sessions; s++) {
      // Positions are shuffled per session, so position (and its bias) is independent of the logging ranker's score
      // and the clicks do not simply teach the model that ranker.
      const rand = seededRandom(`session:${userId}:${s}`);
      const positions = served.map((_, i) => i);
      for (let i = positions.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [positions[i], positions[j]] = [positions[j]!, positions[i]!];
      }
      positions.forEach((row, pos) => {
        const input = inputs[served[row]!]!;
        const click = rand() < examination(pos + 1) * attractiveness(viewer, input.post, cm) ? 1 : 0;
        clicks += click;
        const values = Array.from(batch.values.subarray(row * names.length, (row + 1) * names.length), csvValue);
        out.write(`${click},${userId}#${s},${values.join(',')}\n`);
        rows++;
      });
    }
    if ((v + 1) % 250 === 0) opts.log(`served ${v + 1}/${opts.viewers} viewers (${rows} logged rows, ${clicks} clicks)`);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));

  opts.log(`training LambdaMART (${opts.trees} trees, depth ${opts.depth}) on ${rows} rows of ${trainViewers} viewers...`);
  const trained = spawnSync(
    opts.python,
    [path.join(repoRoot, 'scripts', 'train_home_model.py'), '--train', trainFile, '--out', opts.out, '--trees', String(opts.trees), '--depth', String(opts.depth), '--seed', String(opts.seed)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 },
  );
  if (trained.error || trained.status !== 0) {
    throw new Error(`training failed (${opts.python} scripts/train_home_model.py): ${trained.error?.message ?? `exit ${trained.status}`}. Debian: apt-get install -y python3-xgboost`);
  }

  // Evaluate: the new model and the built-in rankers on the same held-out candidate sets.
  const model = await RankerRegistry.fromSpecs([{ id: 'lambdamart', kind: 'xgboost', description: 'candidate', params: { model: opts.out } }]);
  const contenders: Ranker[] = [model.get('lambdamart')!, ...['personalized', 'hot', 'new', 'top'].map((id) => rankers.get(id)).filter((r): r is Ranker => !!r)];
  const ndcg: Record<string, number> = {};
  for (const r of contenders) {
    let sum = 0;
    for (const h of heldOut) sum += groupNdcg(await scoreCandidates(r, h.inputs), h.rels, { k: 10 });
    ndcg[r.id] = heldOut.length > 0 ? sum / heldOut.length : NaN;
  }
  await model.close();
  return {
    // The source and size, not the folder: a report is committed beside the model and must hold no local path.
    data: `${corpus.info.source}: ${corpus.info.posts} posts of ${corpus.info.communities} communities (fingerprint ${corpus.info.fingerprint})`,
    trainViewers,
    heldOutViewers: heldOut.length,
    trainRows: rows,
    clicks,
    features: names,
    trees: opts.trees,
    depth: opts.depth,
    ndcgAt10: ndcg,
    model: path.relative(repoRoot, opts.out),
    date: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string', default: '5000' },
      sessions: { type: 'string', default: '6' },
      list: { type: 'string', default: '50' },
      holdout: { type: 'string', default: '0.2' },
      trees: { type: 'string', default: '300' },
      depth: { type: 'string', default: '6' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(repoRoot, 'models', 'home-lambdamart.json') },
      'logging-ranker': { type: 'string', default: 'personalized' },
    },
  });
  const config = loadConfig();
  const { corpus } = await loadCorpus({ datasetDir: config.datasetDir, syntheticPosts: config.syntheticPosts, syntheticSeed: config.syntheticSeed });
  const rankers = await RankerRegistry.fromFile(config.rankersConfigPath);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`data: ${corpus.info.description}`);
  const out = path.resolve(values.out!);
  const report = await train(corpus, rankers, {
    viewers: Number(values.viewers),
    sessions: Number(values.sessions),
    list: Number(values.list),
    holdout: Number(values.holdout),
    trees: Number(values.trees),
    depth: Number(values.depth),
    seed: Number(values.seed),
    out,
    loggingRanker: values['logging-ranker']!,
    python: process.env.XGBOOST_PYTHON ?? '/usr/bin/python3',
    workDir: mkdtempSync(path.join(tmpdir(), 'rg-train-')),
    log,
  });
  await rankers.close();
  const reportFile = out.replace(/\.json$/, '.report.json');
  writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  log(`model: ${report.model}; report: ${path.relative(repoRoot, reportFile)}`);
  log('NDCG@10 on held-out viewers (click-model relevance, full candidate sets):');
  for (const [id, v] of Object.entries(report.ndcgAt10)) log(`  ${id.padEnd(14)} ${v.toFixed(4)}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`train: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
