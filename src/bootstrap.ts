import { TokenService } from './auth/tokens';
import { buildCandidateIndexes } from './candidates/indexes';
import type { Config } from './config';
import type { Corpus, DatasetInfo } from './content';
import { loadCorpus } from './dataset';
import { loadRankerFile, type RankerRegistry } from './rankers/registry';
import { createGateway, type Gateway } from './server';
import { EmbeddedStore } from './store/embedded';
import { RedisStore } from './store/redis';
import type { Store } from './store/store';
import type { Logger } from './telemetry/logger';

/** Fills a store with a corpus and the candidate indexes built from it. */
export async function seedStore(store: Store, corpus: Corpus): Promise<void> {
  await store.seed({ info: corpus.info, posts: corpus.posts, communities: corpus.communities, indexes: buildCandidateIndexes(corpus) });
}

async function readCorpus(config: Config, logger: Logger): Promise<Corpus> {
  const started = Date.now();
  const { corpus, warnings } = await loadCorpus({ datasetDir: config.datasetDir, syntheticPosts: config.syntheticPosts, syntheticSeed: config.syntheticSeed });
  for (const w of warnings) logger.warn({ dataset: corpus.info.source }, w);
  logger.info({ ms: Date.now() - started, posts: corpus.info.posts, communities: corpus.info.communities }, `dataset: ${corpus.info.description}`);
  return corpus;
}

/**
 * Opens the configured store. Embedded: loads the corpus into it. Redis: connects; seeds it when it is empty or holds
 * other content than the configured corpus (with SEED_ON_START, the default), and otherwise serves what it holds.
 */
export async function openStore(config: Config, logger: Logger): Promise<{ store: Store; info: DatasetInfo }> {
  if (!config.redisUrl) {
    const store = new EmbeddedStore();
    const corpus = await readCorpus(config, logger);
    await seedStore(store, corpus);
    return { store, info: corpus.info };
  }
  const store = new RedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix });
  try {
    await store.connect();
    const held = await store.datasetInfo();
    if (!config.seedOnStart) {
      if (!held) throw new Error(`Redis at ${redactUrl(config.redisUrl)} holds no dataset: run \`npm run seed\` (with the same REDIS_URL), or start with SEED_ON_START=true.`);
      logger.info({ posts: held.posts }, `Redis holds: ${held.description}`);
      return { store, info: held };
    }
    const corpus = await readCorpus(config, logger);
    if (held?.fingerprint === corpus.info.fingerprint) {
      logger.info({ posts: held.posts }, 'Redis already holds this dataset; not seeding');
      return { store, info: held };
    }
    const started = Date.now();
    logger.info(held ? `Redis holds other content (${held.description}); replacing it` : 'Redis is empty; seeding it');
    await seedStore(store, corpus);
    logger.info({ ms: Date.now() - started }, 'seeded Redis');
    return { store, info: corpus.info };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Everything `npm start` does before listening: store, rankers, tokens, and the HTTP server. */
export async function startGateway(config: Config, logger: Logger): Promise<{ gateway: Gateway; store: Store; rankers: RankerRegistry; info: DatasetInfo; url: string }> {
  const rankers = await loadRankerFile(config.rankersConfigPath, logger);
  for (const v of rankers.list()) if (v.status !== 'LOADED') logger.error({ ranker: v.id, err: v.lastError }, 'ranker variant did not load');
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
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}
