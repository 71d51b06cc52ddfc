import { TokenService } from './auth/tokens';
import { buildCandidateIndexes } from './candidates/indexes';
import type { Config } from './config';
import type { Corpus, DatasetInfo } from './content';
import { loadCorpus } from './dataset';
import { FEED_PIPELINES } from './pipeline/feeds';
import { validatePipelines } from './pipeline/validate';
import { loadRankerFile, type RankerRegistry } from './rankers/registry';
import { createGateway, type Gateway } from './server';
import { EmbeddedStore } from './store/embedded';
import { keepPostFeatures } from './features/rows';
import { RedisStore } from './store/redis';
import { redactRedisUrl } from './redis-url';
import type { SeedData, Store } from './store/store';
import type { Logger } from './telemetry/logger';

/** The seed data for a corpus: its content and the candidate indexes built from it. */
export function seedDataOf(corpus: Corpus): SeedData {
  return { info: corpus.info, posts: corpus.posts, communities: corpus.communities, indexes: buildCandidateIndexes(corpus) };
}

/** Fills a store with a corpus and the candidate indexes built from it. */
export async function seedStore(store: Store, corpus: Corpus): Promise<void> {
  await store.seed(seedDataOf(corpus));
}

/**
 * Fills an embedded store with a corpus, as a serving process does: seeded, then every post's post-only features
 * computed now (one fixed-width row a post, see `keepPostFeatures`) instead of on each post's first request, so a
 * serving process does not grow as more of the corpus is ranked and a post's first request costs no more than later
 * ones. The scaling bench loads its corpora with this too.
 */
export async function seedEmbeddedStore(store: EmbeddedStore, corpus: Corpus): Promise<void> {
  await seedStore(store, corpus);
  keepPostFeatures(store.postTable());
}

async function readCorpus(config: Config, logger: Logger): Promise<Corpus> {
  const started = Date.now();
  const { corpus, warnings } = await loadCorpus({ datasetDir: config.datasetDir, syntheticPosts: config.syntheticPosts, syntheticSeed: config.syntheticSeed });
  for (const w of warnings) logger.warn({ dataset: corpus.info.source }, w);
  logger.info({ ms: Date.now() - started, posts: corpus.info.posts, communities: corpus.info.communities }, `dataset: ${corpus.info.description}`);
  return corpus;
}

/** The in-process replica's snapshot cache: only used while Redis is unavailable, so much smaller than the embedded default. */
const REPLICA_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/**
 * Opens the configured store. Embedded: loads the corpus into it. Redis (one server or a cluster): connects; seeds it
 * when it is empty or holds other content than the configured corpus (with SEED_ON_START, the default), and otherwise
 * serves what it holds.
 *
 * With SEED_ON_START the corpus is loaded at start-up anyway, so it is kept as the Redis store's in-process replica:
 * reads are served from it while Redis is unavailable, and a Redis that comes back empty is re-seeded from it. With
 * SEED_ON_START=false nothing is loaded and there is no replica: reads fail while Redis is unavailable.
 */
export async function openStore(config: Config, logger: Logger): Promise<{ store: Store; info: DatasetInfo }> {
  if (!config.redisUrl) {
    const store = new EmbeddedStore();
    const corpus = await readCorpus(config, logger);
    await seedEmbeddedStore(store, corpus);
    return { store, info: corpus.info };
  }
  const store = redisStoreOf(config, logger);
  try {
    await store.connect();
    const held = await store.datasetInfo();
    if (!config.seedOnStart) {
      if (!held) throw new Error(`Redis at ${redactUrl(config.redisUrl)} holds no dataset: run \`npm run seed\` (with the same REDIS_URL), or start with SEED_ON_START=true.`);
      logger.info({ posts: held.posts }, `Redis holds: ${held.description}`);
      return { store, info: held };
    }
    const corpus = await readCorpus(config, logger);
    const data = seedDataOf(corpus);
    const replica = new EmbeddedStore({ maxSnapshotBytes: REPLICA_SNAPSHOT_BYTES });
    await replica.seed(data);
    if (held?.fingerprint === corpus.info.fingerprint) {
      logger.info({ posts: held.posts }, 'Redis already holds this dataset; not seeding');
    } else {
      const started = Date.now();
      logger.info(held ? `Redis holds other content (${held.description}); replacing it` : 'Redis is empty; seeding it');
      await store.seed(data);
      logger.info({ ms: Date.now() - started }, 'seeded Redis');
    }
    store.setReplica(replica);
    return { store, info: corpus.info };
  } catch (err) {
    await store.close();
    throw err;
  }
}

function redisStoreOf(config: Config, logger: Logger): RedisStore {
  if (!config.redisUrl) throw new Error('REDIS_URL is not set');
  return new RedisStore({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    breaker: { failureThreshold: config.redisBreakerFailures, cooldownMs: config.redisBreakerCooldownMs },
    featureIndex: { maxPosts: config.featureCachePosts, ttlMs: config.featureCacheTtlSeconds * 1000 },
    logger,
  });
}

/** The configured Redis store, connected as the gateway connects, without seeding anything (for tools). */
export async function connectRedisStore(config: Config, logger: Logger): Promise<RedisStore> {
  const store = redisStoreOf(config, logger);
  try {
    await store.connect();
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Everything `npm start` does before listening: store, rankers, tokens, and the HTTP server. */
export async function startGateway(config: Config, logger: Logger): Promise<{ gateway: Gateway; store: Store; rankers: RankerRegistry; info: DatasetInfo; url: string }> {
  const rankers = await loadRankerFile(config.rankersConfigPath, logger);
  for (const v of rankers.list()) if (v.status !== 'LOADED') logger.error({ ranker: v.id, err: v.lastError }, 'ranker variant did not load');
  // Before the corpus is loaded: a feed naming a ranker, source or filter that does not exist stops start-up at once.
  validatePipelines(FEED_PIPELINES, rankers);
  // Edits to the configuration and new model files are picked up while serving.
  if (config.watchRankers) rankers.watch();
  const { store, info } = await openStore(config, logger);
  const tokens = new TokenService(config.jwtSecret);
  // The demo token only exists outside production, signed with the development secret or the configured one.
  const demoToken = config.env !== 'production' && config.graphiql ? await tokens.sign('demo-viewer') : null;
  const gateway = createGateway({ config, store, rankers, tokens, logger, demoToken });
  const address = await gateway.listen();
  // Listening on every interface: show an address a browser on this machine can open.
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { gateway, store, rankers, info, url: `http://${host}:${address.port}/graphql` };
}

/** For logs: a Redis URL without its password. */
export function redactUrl(url: string): string {
  return redactRedisUrl(url);
}
