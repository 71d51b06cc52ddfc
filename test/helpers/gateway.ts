import { TokenService } from '../../src/auth/tokens';
import { seedStore } from '../../src/bootstrap';
import { loadConfig, type Config } from '../../src/config';
import type { Corpus } from '../../src/content';
import { loadRankerFile, type RankerRegistry } from '../../src/rankers/registry';
import { EmbeddedStore } from '../../src/store/embedded';
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/store';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/server';
import type { FeedPipelines } from '../../src/pipeline/feeds';
import type { FeatureLogStore } from '../../src/store/store';
import { createLogger } from '../../src/telemetry/logger';

export type Backend = 'embedded' | 'redis';

/** A gateway listening on a free loopback port, over a store seeded with `corpus`. */
export interface TestGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly store: Store;
  readonly config: Config;
  readonly tokens: TokenService;
  readonly rankers: RankerRegistry;
  readonly featureLog: FeatureLogStore;
  /** A bearer token for `userId` (signed with the gateway's secret). */
  token(userId: string, roles?: string[]): Promise<string>;
  /** POSTs a GraphQL request; returns the HTTP status and the parsed body. */
  query(query: string, opts?: { variables?: Record<string, unknown>; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: GraphQLBody }>;
  close(): Promise<void>;
}

export interface GraphQLBody {
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

export async function startTestGateway(opts: {
  corpus: Corpus;
  backend: Backend;
  redisUrl?: string;
  keyPrefix?: string;
  /** Use this store (seeded with `corpus` unless it already holds it) instead of making one. */
  store?: Store;
  /** A ranker configuration file instead of models/rankers.json. */
  rankersConfig?: string;
  /** Watch the ranker configuration for changes, as `npm start` does. */
  watchRankers?: boolean;
  /** Feed pipelines instead of FEED_PIPELINES. */
  pipelines?: FeedPipelines;
  /** More schema and resolvers (a feed defined in test code). */
  extensions?: GatewayDeps['extensions'];
  env?: Record<string, string>;
}): Promise<TestGateway> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    ...(opts.backend === 'redis' ? { REDIS_URL: opts.redisUrl, REDIS_KEY_PREFIX: opts.keyPrefix ?? 'rgtest:' } : {}),
    ...(opts.rankersConfig ? { RANKERS_CONFIG: opts.rankersConfig } : {}),
    ...opts.env,
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  let store: Store;
  if (opts.store) {
    store = opts.store;
  } else if (opts.backend === 'redis') {
    if (!opts.redisUrl) throw new Error('redis backend needs redisUrl');
    const redis = new RedisStore({ url: opts.redisUrl, keyPrefix: config.redisKeyPrefix });
    await redis.connect();
    store = redis;
  } else {
    store = new EmbeddedStore();
  }
  const held = await store.datasetInfo();
  if (held?.fingerprint !== opts.corpus.info.fingerprint) await seedStore(store, opts.corpus);
  const tokens = new TokenService(config.jwtSecret);
  const rankers = await loadRankerFile(config.rankersConfigPath, logger);
  if (opts.watchRankers) rankers.watch(50);
  const gateway = createGateway({ config, store, rankers, tokens, logger, demoToken: await tokens.sign('demo-viewer'), pipelines: opts.pipelines, extensions: opts.extensions });
  const address = await gateway.listen();
  const url = `http://127.0.0.1:${address.port}/graphql`;
  return {
    url,
    gateway,
    store,
    config,
    tokens,
    token: (userId, roles = []) => tokens.sign(userId, { roles }),
    async query(query, q = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...q.headers };
      if (q.token) headers.authorization = `Bearer ${q.token}`;
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables: q.variables }) });
      const text = await res.text();
      let body: GraphQLBody;
      try {
        body = JSON.parse(text) as GraphQLBody;
      } catch {
        body = { errors: [{ message: `non-JSON response: ${text.slice(0, 200)}` }] };
      }
      return { status: res.status, body };
    },
    rankers,
    featureLog: store.featureLog,
    async close() {
      await gateway.close();
      await gateway.feeds.idle();
      await rankers.close();
      await store.close();
    },
  };
}
