import { createWriteStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TokenService } from './auth/tokens';
import { connectRedisStore, openStore, redactUrl } from './bootstrap';
import { evalCommand, MLE_USAGE, MleUsageError, scoreCommand } from './mle/commands';
import { exportFeatureLog } from './mle/feature-log';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './telemetry/logger';
import { buildManifest } from './security/trusted-documents';

/** How long a `token` is valid when `--expires` is not given (jose's time-span syntax). */
const DEFAULT_TOKEN_EXPIRY = '24h';

const USAGE = `usage:
  npm run --silent cli -- help                                               print this usage (also --help, -h)
  npm run --silent cli -- token --user ID [--role ROLE ...] [--expires SPAN]  print a viewer token for the configured JWT_SECRET
        valid for ${DEFAULT_TOKEN_EXPIRY} unless --expires says otherwise: a time span (30m, 1h, 7d, 2 weeks) or "never" (no exp claim).
  npm run seed                                                               load the dataset (DATASET_DIR, else synthetic) into REDIS_URL
  npm run --silent cli -- export-log --out FILE.csv                          write REDIS_URL's feature log as training rows
  npm run --silent cli -- trust FILE.graphql ...                              print a trusted-documents manifest (TRUSTED_DOCUMENTS) of these operations
  npm run --silent cli -- <command> for MLEs (one number a line on stdout):
${MLE_USAGE}`;

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { user: { type: 'string' }, role: { type: 'string', multiple: true }, expires: { type: 'string' } } });
  if (!values.user) throw new UsageError('token needs --user ID');
  const expires = values.expires ?? DEFAULT_TOKEN_EXPIRY;
  const config = loadConfig();
  const tokens = new TokenService(config.jwtSecret);
  let jwt: string;
  try {
    // "never": no exp claim (the gateway enforces exp only when present).
    jwt = await tokens.sign(values.user, { roles: values.role ?? [], expiresIn: expires === 'never' ? undefined : expires });
  } catch (err) {
    // jose refuses a span it cannot read with a TypeError ("Invalid time period format").
    if (err instanceof TypeError && /time period/i.test(err.message)) throw new UsageError(`--expires "${expires}" is not a time span (e.g. 30m, 1h, 7d) or "never"`);
    throw err;
  }
  process.stdout.write(`${jwt}\n`);
}

async function seed(): Promise<void> {
  const config = loadConfig();
  if (!config.redisUrl) throw new UsageError('seed loads Redis: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379 npm run seed)');
  const logger = createLogger(config.logLevel === 'silent' ? 'silent' : 'info');
  // Always (re)seed: openStore skips seeding only when Redis already holds exactly this dataset.
  const { store, info } = await openStore({ ...config, seedOnStart: true }, logger);
  await store.close();
  process.stdout.write(`Redis at ${redactUrl(config.redisUrl)} holds ${info.posts} posts of ${info.communities} communities (${info.description})\n`);
}

async function exportLog(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } } });
  if (!values.out) throw new UsageError('export-log needs --out FILE.csv');
  const config = loadConfig();
  if (!config.redisUrl) throw new UsageError('export-log reads the feature log in Redis: set REDIS_URL (the embedded store keeps its log in the serving process only)');
  // One server or a cluster (redis+cluster://), as the gateway connects; nothing is seeded.
  const store = await connectRedisStore(config, createLogger('silent'));
  const out = createWriteStream(values.out);
  try {
    const n = await exportFeatureLog(store.featureLog, (line) => out.write(line));
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    process.stderr.write(`wrote ${n} rows to ${values.out}\n`);
  } finally {
    await store.close();
  }
}

/** One operation per file, hashed as written: the manifest a TRUSTED_DOCUMENTS gateway loads. */
function trust(files: string[]): void {
  if (files.length === 0) throw new UsageError('trust needs one or more .graphql files, one operation each');
  const manifest = buildManifest(files.map((f) => readFileSync(f, 'utf8')));
  process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    // Asked-for usage goes to stdout and exits 0; a missing or unknown command prints it to stderr and exits 2.
    if (command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE);
    else if (command === 'token') await token(rest);
    else if (command === 'seed') await seed();
    else if (command === 'export-log') await exportLog(rest);
    else if (command === 'trust') trust(rest);
    else if (command === 'score') await scoreCommand(rest, process.stdout);
    else if (command === 'eval') await evalCommand(rest, process.stdout);
    else throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (err) {
    if (err instanceof UsageError || err instanceof MleUsageError) process.stderr.write(`${err.message}\n${USAGE}`);
    else if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}

void main(process.argv.slice(2));
