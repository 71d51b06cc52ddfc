import { startGateway, redactUrl } from './bootstrap';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './telemetry/logger';

/** `npm start`: validate configuration, open the store, serve. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ranking-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the fixed development secret (refused when NODE_ENV=production)');
  const { gateway, store, rankers, info, url } = await startGateway(config, logger);
  logger.info(
    { store: store.kind, redis: config.redisUrl ? redactUrl(config.redisUrl) : undefined, dataset: info.source, posts: info.posts },
    `ranking gateway serving ${url}${config.graphiql ? ' (GraphiQL in the browser at the same address)' : ''}; store: ${store.kind}; data: ${info.description}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await gateway.close();
    await gateway.feeds.shadowsIdle();
    await rankers.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const cause = err instanceof Error && err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
  process.stderr.write(`ranking-gateway: failed to start: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  process.exit(1);
});
