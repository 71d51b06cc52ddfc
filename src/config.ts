import path from 'node:path';
import { z } from 'zod';

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
  /** `REDIS_URL`, e.g. redis://127.0.0.1:6379/0. Unset: the embedded in-process store. */
  readonly redisUrl: string | null;
  /** `REDIS_KEY_PREFIX`: every key the gateway writes starts with it. @default "rg:" */
  readonly redisKeyPrefix: string;
  /** `SEED_ON_START`: load the corpus into an empty Redis at start-up. @default true */
  readonly seedOnStart: boolean;
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
}

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

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int('PORT', 0, 65535).default(4000),
  DATASET_DIR: z.string().optional(),
  SYNTHETIC_POSTS: int('SYNTHETIC_POSTS', 100, 50_000_000).default(20_000),
  SYNTHETIC_SEED: int('SYNTHETIC_SEED', 0, 2 ** 31).default(1),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { message: 'REDIS_URL must start with redis:// or rediss://' })
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,32}$/, { message: 'REDIS_KEY_PREFIX must be 1-32 of A-Z a-z 0-9 _ . : -' })
    .default('rg:'),
  SEED_ON_START: bool('SEED_ON_START').default(true),
  SNAPSHOT_TTL_SECONDS: int('SNAPSHOT_TTL_SECONDS', 1, 7 * 24 * 3600).default(300),
  SNAPSHOT_MAX_ITEMS: int('SNAPSHOT_MAX_ITEMS', 25, 10_000).default(1000),
  JWT_SECRET: z.string().min(32, { message: 'JWT_SECRET must be at least 32 characters' }).optional(),
  CURSOR_SECRET: z.string().min(32, { message: 'CURSOR_SECRET must be at least 32 characters' }).optional(),
  RANKERS_CONFIG: z.string().optional(),
  GRAPHIQL: bool('GRAPHIQL').optional(),
  RANKERS_WATCH: bool('RANKERS_WATCH').default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
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
    snapshotTtlSeconds: e.SNAPSHOT_TTL_SECONDS,
    snapshotMaxItems: e.SNAPSHOT_MAX_ITEMS,
    jwtSecret,
    jwtSecretIsDefault: !e.JWT_SECRET,
    cursorSecret: e.CURSOR_SECRET ?? `cursor:${jwtSecret}`,
    rankersConfigPath: e.RANKERS_CONFIG ? path.resolve(e.RANKERS_CONFIG) : path.join(REPO_ROOT, 'models', 'rankers.json'),
    watchRankers: e.RANKERS_WATCH,
    graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'silent' : 'info'),
  };
}

/** The repository root (where `schema/` and `models/` live), whether running from source or from `dist/`. */
export const repoRoot = REPO_ROOT;
