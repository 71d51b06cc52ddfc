import { startGateway, redactUrl } from './bootstrap';
import { ConfigError, loadConfig, type Config } from './config';
import { trackRequests } from './telemetry/drain';
import { createLogger } from './telemetry/logger';
import { startTelemetry } from './telemetry/sdk';

/** After the requests in flight are done: at most this long for shadows, telemetry and Redis to close. */
const CLEANUP_TIMEOUT_MS = 5000;

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ranking-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** `npm start`: validate configuration, start tracing, open the store, serve; drain and exit on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  // First: the tracer provider and its context manager must exist before anything starts a span.
  const telemetry = startTelemetry(config, logger);
  if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the fixed development secret (refused when NODE_ENV=production)');
  const { gateway, store, rankers, info, url } = await startGateway(config, logger);
  // Attached before the first request can arrive: startGateway resolves within the tick the server starts listening.
  const requests = trackRequests(gateway.server);
  logger.info(
    { store: store.kind, redis: config.redisUrl ? redactUrl(config.redisUrl) : undefined, dataset: info.source, posts: info.posts },
    `ranking gateway serving ${url}${config.graphiql ? ' (GraphiQL in the browser at the same address)' : ''}; store: ${store.kind}; data: ${info.description}`,
  );

  const exit = (code: number): never => {
    logger.flush();
    process.exit(code);
  };

  /**
   * Graceful shutdown: readiness turns 503 and the listener closes at once; requests in flight get SHUTDOWN_GRACE_MS
   * to finish (keep-alive connections close as they go idle); then shadow scorings get what is left of the grace,
   * and spans are flushed and Redis closed. Exit 0. Exit 1 when requests are still running at the bound, when the
   * clean-up hangs, or on a second signal.
   */
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal, inFlight: requests.inFlight }, 'second signal during shutdown: exiting now');
      exit(1);
    }
    stopping = true;
    const deadline = Date.now() + config.shutdownGraceMs;
    logger.info({ signal, inFlight: requests.inFlight, graceMs: config.shutdownGraceMs }, 'shutting down: not ready, accepting no connections, finishing the requests in flight');
    const outcome = await requests.drain(config.shutdownGraceMs);
    if (outcome === 'timeout') {
      logger.error({ inFlight: requests.inFlight, graceMs: config.shutdownGraceMs }, 'requests still in flight after SHUTDOWN_GRACE_MS: exiting without them');
      requests.destroyConnections();
      await telemetry.shutdown(1000);
      exit(1);
    }
    logger.info('requests in flight finished; closing');
    const cleanup = (async () => {
      // Side effects (shadow scoring, the feature log) and snapshot writes still on their way get what is left of the
      // grace; past it they are abandoned: they never affect an answer already sent.
      await Promise.race([gateway.feeds.idle(), delay(Math.max(0, deadline - Date.now()))]);
      await rankers.close();
      await telemetry.shutdown();
      await store.close();
    })().then(
      () => true,
      (err: unknown) => {
        logger.error({ err: (err as Error)?.message }, 'shutdown clean-up failed');
        return false;
      },
    );
    const done = await Promise.race([cleanup, delay(CLEANUP_TIMEOUT_MS).then(() => null)]);
    if (done === null) logger.error({ timeoutMs: CLEANUP_TIMEOUT_MS }, 'shutdown clean-up did not finish in time');
    requests.destroyConnections();
    if (done) logger.info('stopped');
    exit(done ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

main().catch((err: unknown) => {
  const cause = err instanceof Error && err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
  process.stderr.write(`ranking-gateway: failed to start: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  process.exit(1);
});
