import path from 'node:path';
import { z } from 'zod';
import { parseRedisTarget } from './redis-url';

/**
 * The gateway's whole configuration. This is the only module that reads `process.env`; everything else receives a
 * `Config`. Each field is validated once at boot and a bad value fails start-up with a message naming the variable.
 */
export interface Config {
  /** `NODE_ENV`. Production refuses to start without `JWT_SECRET` and hides GraphiQL's demo token. @default "development" */
  readonly env: 'development' | 'production' | 'test';
  /** `HOST`. @default "127.0.0.1" */
  readonly host: string;
  /** `PORT`; 0 picks a free port. @default 4000 */
  readonly port: number;
  /** `DATASET_DIR`: a folder in the Reddit Top 2.5 Million layout. Unset: a deterministic synthetic corpus. */
  readonly datasetDir: string | null;
  /** `SYNTHETIC_POSTS`: size of the synthetic corpus used when `DATASET_DIR` is unset. @default 20000 */
  readonly syntheticPosts: number;
  /** `SYNTHETIC_SEED`. @default 1 */
  readonly syntheticSeed: number;
  /**
   * `REDIS_URL`, e.g. redis://127.0.0.1:6379/0, or redis+cluster://host:port,host:port for a Redis Cluster (any
   * reachable seed nodes). Unset: the embedded in-process store.
   */
  readonly redisUrl: string | null;
  /** `REDIS_KEY_PREFIX`: every key the gateway writes starts with it. @default "rg:" */
  readonly redisKeyPrefix: string;
  /** `SEED_ON_START`: load the corpus into an empty Redis at start-up. @default true */
  readonly seedOnStart: boolean;
  /** `REDIS_COMMAND_TIMEOUT_MS`: how long a request waits on one Redis command before serving without it. @default 250 */
  readonly redisCommandTimeoutMs: number;
  /** `REDIS_BREAKER_FAILURES`: consecutive failed Redis calls that open the circuit (stop calling Redis). @default 3 */
  readonly redisBreakerFailures: number;
  /** `REDIS_BREAKER_COOLDOWN_MS`: how long the circuit stays open before one probe. @default 1000 */
  readonly redisBreakerCooldownMs: number;
  /** `FEATURE_CACHE_POSTS`: posts kept in the in-process feature index in front of Redis (0: none). @default 100000 */
  readonly featureCachePosts: number;
  /** `FEATURE_CACHE_TTL_SECONDS`: how long a post (and the community table) stays in that index. @default 600 */
  readonly featureCacheTtlSeconds: number;
  /** `SNAPSHOT_TTL_SECONDS`: how long a ranked list (and so its cursors) lives. @default 300 */
  readonly snapshotTtlSeconds: number;
  /** `SNAPSHOT_MAX_ITEMS`: how many ranked items a snapshot keeps; paging ends there. @default 1000 */
  readonly snapshotMaxItems: number;
  /** `JWT_SECRET`: HS256 secret for viewer tokens. Required in production; a fixed development default otherwise. */
  readonly jwtSecret: string;
  /** True when `JWT_SECRET` was not set and the development default is in use. */
  readonly jwtSecretIsDefault: boolean;
  /** `CURSOR_SECRET`: HMAC key for cursors. @default derived from JWT_SECRET */
  readonly cursorSecret: string;
  /** `RANKERS_CONFIG`: the ranker variants file. @default "models/rankers.json" in the repository */
  readonly rankersConfigPath: string;
  /** `RANKERS_WATCH`: reload the ranker configuration and model files when they change. @default true */
  readonly watchRankers: boolean;
  /** `GRAPHIQL`: serve GraphiQL at the GraphQL endpoint. @default true outside production */
  readonly graphiql: boolean;
  /** `LOG_LEVEL` (pino levels). @default "info" ("silent" under test) */
  readonly logLevel: string;
  /**
   * `SHUTDOWN_GRACE_MS`: after SIGTERM, how long requests in flight may take to finish before the process exits with
   * status 1 anyway. Readiness turns 503 and no new connection is accepted from the first moment. @default 10000
   */
  readonly shutdownGraceMs: number;
  /**
   * Where spans are sent over OTLP/HTTP (JSON encoding): `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. Null (neither set): spans are recorded for metrics but not exported.
   */
  readonly otlpTracesUrl: string | null;
  /** `OTEL_SERVICE_NAME`: the `service.name` of every span. @default "ranking-gateway" */
  readonly serviceName: string;
  /**
   * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (the standard names and values): which traces are exported.
   * Stage metrics see every span whatever the sampler says. @default parentbased_always_on, ratio 1
   */
  readonly tracesSampler: { readonly kind: TracesSamplerKind; readonly ratio: number };
  /**
   * Replayed responses (src/http/replay.ts): `RESPONSE_CACHE_MB` of memory (default 64; 0 turns replays off) and
   * `RESPONSE_CACHE_TTL_MS`, the longest a response is replayed (default 5000; 0 turns replays off). Another
   * instance's refresh of a session sharing Redis is seen here within that time.
   */
  readonly responseCache: { readonly maxBytes: number; readonly ttlMs: number };
  /** The request limits and production switches of src/security (each refusal has its own error code). */
  readonly security: SecurityConfig;
}

export interface SecurityConfig {
  /** `MAX_BODY_BYTES`: the largest request body (query plus variables); larger is BODY_TOO_LARGE (HTTP 413). @default 65536 */
  readonly maxBodyBytes: number;
  /** `MAX_TOKENS`: lexical tokens in one document; more is TOKEN_LIMIT_EXCEEDED, found while parsing. @default 2000 */
  readonly maxTokens: number;
  /** `MAX_DEPTH`: field nesting, fragments expanded; deeper is DEPTH_LIMIT_EXCEEDED. @default 10 */
  readonly maxDepth: number;
  /** `MAX_ALIASES`: aliased fields in one document; more is ALIAS_LIMIT_EXCEEDED. @default 15 */
  readonly maxAliases: number;
  /**
   * `MAX_COST`: the operation's cost, where list sizes (page sizes such as `first`, comparison depth `k`) multiply
   * through nesting and each feed costs a ranking; more is COST_LIMIT_EXCEEDED. See src/security/cost.ts. @default 20000
   */
  readonly maxCost: number;
  /** `INTROSPECTION`: answer `__schema` and `__type`; off, they are INTROSPECTION_DISABLED. @default true outside production */
  readonly introspection: boolean;
  /**
   * `TRUSTED_DOCUMENTS`: a JSON file mapping each trusted (persisted) operation's sha256 to its text, as GraphQL
   * Codegen's client preset and Relay write it. Clients send the hash in `extensions.persistedQuery.sha256Hash`
   * instead of the text. Null: no trusted documents.
   */
  readonly trustedDocumentsPath: string | null;
  /**
   * `ALLOW_ARBITRARY_OPERATIONS`: with trusted documents configured, also run operations sent as text. Off,
   * any other operation is PERSISTED_QUERY_ONLY. @default false in production, true otherwise
   */
  readonly allowArbitraryOperations: boolean;
}

/** The values of the standard `OTEL_TRACES_SAMPLER` variable that the gateway supports. */
export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSamplerKind = (typeof TRACES_SAMPLERS)[number];

/** Fixed so that development tokens survive restarts; never accepted in production. */
export const DEVELOPMENT_JWT_SECRET = 'ranking-gateway-development-secret-do-not-use-in-production';

// Compiled code runs from dist/src, source from src: both find the repository root two or one levels up.
const REPO_ROOT = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');

const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ message: `${name} must be a number` })
    .int({ message: `${name} must be an integer` })
    .min(min, { message: `${name} must be at least ${min}` })
    .max(max, { message: `${name} must be at most ${max}` });

const httpUrl = (name: string) =>
  z.string().refine(
    (u) => {
      try {
        return ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    },
    { message: `${name} must be an http:// or https:// URL` },
  );

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int('PORT', 0, 65535).default(4000),
  DATASET_DIR: z.string().optional(),
  SYNTHETIC_POSTS: int('SYNTHETIC_POSTS', 100, 50_000_000).default(20_000),
  SYNTHETIC_SEED: int('SYNTHETIC_SEED', 0, 2 ** 31).default(1),
  REDIS_URL: z
    .string()
    .superRefine((url, ctx) => {
      try {
        parseRedisTarget(url);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `REDIS_URL ${(err as Error).message}` });
      }
    })
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,32}$/, { message: 'REDIS_KEY_PREFIX must be 1-32 of A-Z a-z 0-9 _ . : -' })
    .default('rg:'),
  SEED_ON_START: bool('SEED_ON_START').default(true),
  REDIS_COMMAND_TIMEOUT_MS: int('REDIS_COMMAND_TIMEOUT_MS', 10, 60_000).default(250),
  REDIS_BREAKER_FAILURES: int('REDIS_BREAKER_FAILURES', 1, 1000).default(3),
  REDIS_BREAKER_COOLDOWN_MS: int('REDIS_BREAKER_COOLDOWN_MS', 10, 600_000).default(1000),
  FEATURE_CACHE_POSTS: int('FEATURE_CACHE_POSTS', 0, 50_000_000).default(100_000),
  FEATURE_CACHE_TTL_SECONDS: int('FEATURE_CACHE_TTL_SECONDS', 1, 7 * 24 * 3600).default(600),
  SNAPSHOT_TTL_SECONDS: int('SNAPSHOT_TTL_SECONDS', 1, 7 * 24 * 3600).default(300),
  SNAPSHOT_MAX_ITEMS: int('SNAPSHOT_MAX_ITEMS', 25, 10_000).default(1000),
  JWT_SECRET: z.string().min(32, { message: 'JWT_SECRET must be at least 32 characters' }).optional(),
  CURSOR_SECRET: z.string().min(32, { message: 'CURSOR_SECRET must be at least 32 characters' }).optional(),
  RANKERS_CONFIG: z.string().optional(),
  GRAPHIQL: bool('GRAPHIQL').optional(),
  RANKERS_WATCH: bool('RANKERS_WATCH').default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  SHUTDOWN_GRACE_MS: int('SHUTDOWN_GRACE_MS', 0, 600_000).default(10_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT').optional(),
  OTEL_SERVICE_NAME: z.string().max(128, { message: 'OTEL_SERVICE_NAME must be at most 128 characters' }).default('ranking-gateway'),
  OTEL_TRACES_SAMPLER: z.enum(TRACES_SAMPLERS, { message: `OTEL_TRACES_SAMPLER must be one of ${TRACES_SAMPLERS.join(', ')}` }).default('parentbased_always_on'),
  RESPONSE_CACHE_MB: int('RESPONSE_CACHE_MB', 0, 65_536).default(64),
  RESPONSE_CACHE_TTL_MS: int('RESPONSE_CACHE_TTL_MS', 0, 3_600_000).default(5000),
  MAX_BODY_BYTES: int('MAX_BODY_BYTES', 1024, 64 * 1024 * 1024).default(64 * 1024),
  MAX_TOKENS: int('MAX_TOKENS', 50, 1_000_000).default(2000),
  MAX_DEPTH: int('MAX_DEPTH', 2, 1000).default(10),
  MAX_ALIASES: int('MAX_ALIASES', 0, 10_000).default(15),
  MAX_COST: int('MAX_COST', 100, 100_000_000).default(20_000),
  INTROSPECTION: bool('INTROSPECTION').optional(),
  TRUSTED_DOCUMENTS: z.string().optional(),
  ALLOW_ARBITRARY_OPERATIONS: bool('ALLOW_ARBITRARY_OPERATIONS').optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ message: 'OTEL_TRACES_SAMPLER_ARG must be a number' })
    .min(0, { message: 'OTEL_TRACES_SAMPLER_ARG must be between 0 and 1' })
    .max(1, { message: 'OTEL_TRACES_SAMPLER_ARG must be between 0 and 1' })
    .default(1),
});

export class ConfigError extends Error {}

/** Reads and validates the environment. Throws `ConfigError` naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.JWT_SECRET) {
    throw new ConfigError('invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production');
  }
  // The development secret is public (it is in this repository): anyone could mint tokens with it.
  if (e.NODE_ENV === 'production' && (e.JWT_SECRET === DEVELOPMENT_JWT_SECRET || e.CURSOR_SECRET === DEVELOPMENT_JWT_SECRET)) {
    throw new ConfigError('invalid configuration:\n  JWT_SECRET: the development secret is refused when NODE_ENV=production');
  }
  const jwtSecret = e.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET;
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    datasetDir: e.DATASET_DIR ? path.resolve(e.DATASET_DIR) : null,
    syntheticPosts: e.SYNTHETIC_POSTS,
    syntheticSeed: e.SYNTHETIC_SEED,
    redisUrl: e.REDIS_URL ?? null,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    seedOnStart: e.SEED_ON_START,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    redisBreakerFailures: e.REDIS_BREAKER_FAILURES,
    redisBreakerCooldownMs: e.REDIS_BREAKER_COOLDOWN_MS,
    featureCachePosts: e.FEATURE_CACHE_POSTS,
    featureCacheTtlSeconds: e.FEATURE_CACHE_TTL_SECONDS,
    snapshotTtlSeconds: e.SNAPSHOT_TTL_SECONDS,
    snapshotMaxItems: e.SNAPSHOT_MAX_ITEMS,
    jwtSecret,
    jwtSecretIsDefault: !e.JWT_SECRET,
    cursorSecret: e.CURSOR_SECRET ?? `cursor:${jwtSecret}`,
    rankersConfigPath: e.RANKERS_CONFIG ? path.resolve(e.RANKERS_CONFIG) : path.join(REPO_ROOT, 'models', 'rankers.json'),
    watchRankers: e.RANKERS_WATCH,
    graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    // The signal-specific variable is a full URL; the general one is a base that the signal's path is appended to.
    otlpTracesUrl:
      e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : null),
    serviceName: e.OTEL_SERVICE_NAME,
    tracesSampler: { kind: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG },
    responseCache: { maxBytes: e.RESPONSE_CACHE_MB * 1024 * 1024, ttlMs: e.RESPONSE_CACHE_TTL_MS },
    security: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxTokens: e.MAX_TOKENS,
      maxDepth: e.MAX_DEPTH,
      maxAliases: e.MAX_ALIASES,
      maxCost: e.MAX_COST,
      introspection: e.INTROSPECTION ?? e.NODE_ENV !== 'production',
      trustedDocumentsPath: e.TRUSTED_DOCUMENTS ? path.resolve(e.TRUSTED_DOCUMENTS) : null,
      allowArbitraryOperations: e.ALLOW_ARBITRARY_OPERATIONS ?? e.NODE_ENV !== 'production',
    },
  };
}

/** The repository root (where `schema/` and `models/` live), whether running from source or from `dist/`. */
export const repoRoot = REPO_ROOT;

/**
 * V8 flags the gateway process runs with: `npm start` and the Dockerfile pass them, and the benchmark starts the
 * gateway with them (test/unit/config.test.ts checks that the launchers agree).
 *
 * --max-semi-space-size=64 (MiB; Node 20's default is 16): a cold home request holds its candidates (posts, feature
 * rows, scores) while it is ranked, and each young-generation collection copies what the requests in flight hold,
 * whatever the young generation's size; four times as much room means a quarter as many collections for the same
 * copying each. `npm run bench` (the cold page) measures what that does to latency and main-thread CPU; 32 and 128
 * did no better there. The price is resident memory: under load the young generation grows to the larger bound.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
