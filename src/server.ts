import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { getNamedType, type GraphQLSchema } from 'graphql';
import { createSchema, createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { GatewayContext } from '../resolvers/context';
import { resolvers as gatewayResolvers } from '../resolvers';
import type { TokenService, Viewer } from './auth/tokens';
import { repoRoot, type Config } from './config';
import { createLoaders } from './features/loaders';
import { ViewerProfiles } from './features/viewer-profiles';
import { FeedService } from './feed/service';
import { readBodyWithin, sendRequestError } from './http/body';
import { csrfRejection } from './http/csrf';
import { useMetricsEndpoint, useRootRedirect } from './http/endpoints';
import { maskedErrors } from './http/errors';
import { useRankingExtensions, variablesAccepted } from './http/extensions';
import { graphiqlOptions } from './http/graphiql';
import { useReadiness } from './http/readiness';
import { Replayer, ResponseCache } from './http/replay';
import { FEED_PIPELINES, type FeedPipelines } from './pipeline/feeds';
import type { RankerRegistry } from './rankers/registry';
import { aliasRule, depthRule, useRequestLimits } from './security/limits';
import { loadTrustedDocuments, useTrustedDocuments } from './security/trusted-documents';
import type { Store } from './store/store';
import { createRequestObserver } from './telemetry/http';
import type { Logger } from './telemetry/logger';
import { createMetrics, type Metrics } from './telemetry/metrics';

/** Resolvers as yoga's createSchema takes them. */
type SchemaResolvers = Exclude<NonNullable<Parameters<typeof createSchema<NodeServerContext & GatewayContext>>[0]['resolvers']>, readonly unknown[]>;

/** What node:http hands yoga with each request. */
interface NodeServerContext {
  req: IncomingMessage;
  res: ServerResponse;
}

export interface GatewayDeps {
  readonly config: Config;
  readonly store: Store;
  readonly rankers: RankerRegistry;
  readonly tokens: TokenService;
  readonly logger: Logger;
  /** A token put in GraphiQL's headers so its example answers without setup; development only. */
  readonly demoToken?: string | null;
  /** Feed pipelines. @default FEED_PIPELINES (src/pipeline/feeds.ts) */
  readonly pipelines?: FeedPipelines;
  /**
   * More schema and resolvers, merged with schema/ and resolvers/: how a feed defined outside the repository's
   * files (a test's, an embedding application's) gets its field.
   */
  readonly extensions?: { readonly typeDefs: string; readonly resolvers: SchemaResolvers };
}

export interface Gateway {
  readonly yoga: YogaServerInstance<NodeServerContext, GatewayContext>;
  readonly server: Server;
  readonly feeds: FeedService;
  readonly metrics: Metrics;
  /** Listens on the configured host and port (port 0: a free one) and resolves to the bound address. */
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** The SDL files in schema/, concatenated: the API's source of truth. */
export function loadTypeDefs(dir = path.join(repoRoot, 'schema')): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

/** The query fields that serve a feed (of type FeedConnection), and `__typename`. */
function feedFieldsOf(schema: GraphQLSchema): ReadonlySet<string> {
  const fields = Object.values(schema.getQueryType()?.getFields() ?? {});
  return new Set(['__typename', ...fields.filter((f) => getNamedType(f.type).name === 'FeedConnection').map((f) => f.name)]);
}

/** The gateway's wiring: the feed service, GraphQL (yoga and its plugins) and the HTTP server in front of it. */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, store, rankers, tokens, logger } = deps;
  const { security } = config;
  const metrics = createMetrics();
  const pipelines = deps.pipelines ?? FEED_PIPELINES;
  const feeds = new FeedService({
    store,
    rankers,
    logger,
    metrics,
    pipelines,
    cursorSecret: config.cursorSecret,
    snapshotTtlSeconds: config.snapshotTtlSeconds,
    snapshotMaxItems: config.snapshotMaxItems,
  });
  const profiles = new ViewerProfiles(store);
  // One log line, a request id, a span (continuing an incoming traceparent) and latency metrics per HTTP request.
  const observer = createRequestObserver({
    logger,
    metrics,
    graphqlPaths: ['/graphql'],
    routes: ['/graphql', '/healthz', '/readyz', '/metrics', '/'],
    quietRoutes: ['/healthz', '/readyz', '/metrics'],
  });

  const schema = createSchema<NodeServerContext & GatewayContext>({
    typeDefs: [loadTypeDefs(), ...(deps.extensions ? [deps.extensions.typeDefs] : [])],
    resolvers: [gatewayResolvers, ...(deps.extensions ? [deps.extensions.resolvers] : [])],
  });
  // Checked against the schema and the limits now: a bad manifest stops start-up, not a client's request.
  const trusted = security.trustedDocumentsPath
    ? loadTrustedDocuments(security.trustedDocumentsPath, schema, [depthRule(security.maxDepth), aliasRule(security.maxAliases)])
    : null;
  if (trusted) logger.info({ documents: trusted.size, arbitraryOperations: security.allowArbitraryOperations }, 'trusted documents loaded');

  // Replayed responses (src/http/replay.ts): an identical feed request answered from the bytes of the last one.
  const replays = new Replayer({
    cache: new ResponseCache({
      maxBytes: config.responseCache.maxBytes,
      ttlMs: config.responseCache.ttlMs,
      isCurrent: (key, generation) => feeds.isCurrentSession(key, generation),
    }),
    store,
    metrics,
    observer,
    logger,
    replayableRootFields: feedFieldsOf(schema),
  });
  rankers.onReload(() => replays.clear());

  let server: Server;
  const yoga = createYoga<NodeServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    // GraphiQL's files come from the package, not a CDN: no request leaves the machine.
    renderGraphiQL,
    graphiql: config.graphiql ? graphiqlOptions(deps.demoToken ?? null) : false,
    logging: {
      debug: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }, 'yoga'),
      info: (...args: unknown[]) => logger.info({ yoga: args.map(String) }, 'yoga'),
      warn: (...args: unknown[]) => logger.warn({ yoga: args.map(String) }, 'yoga'),
      error: (...args: unknown[]) => logger.error({ yoga: args.map((a) => (a instanceof Error ? a.stack : String(a))) }, 'yoga'),
    },
    plugins: [
      useReadiness({
        store,
        rankers,
        requiredRankers: Object.values(pipelines).flatMap((p) => [p.scorer.defaultRanker, p.scorer.signedOutRanker]),
        accepting: () => server.listening,
      }),
      useMetricsEndpoint(metrics.registry),
      useRootRedirect('/graphql'),
      ...(trusted ? [useTrustedDocuments(trusted, security.allowArbitraryOperations)] : []),
      useRequestLimits(security),
      useRankingExtensions(),
      observer.plugin,
      // Operations run as compiled JavaScript (graphql-jit), compiled once per parsed document (yoga keeps the
      // documents it parsed): the generic executor gives every field execution its own resolve info, argument map
      // and promise bookkeeping.
      useGraphQlJit({}, { enableIf: variablesAccepted }),
    ],
    maskedErrors: maskedErrors(config.env === 'development', logger),
    context: ({ request, req }): GatewayContext => {
      let viewer: Promise<Viewer | null> | null = null;
      const capture = req ? replays.captureOf(req) : undefined;
      const ctx: GatewayContext = {
        feeds,
        rankers,
        viewerState: store.viewers,
        requestId: randomUUID(),
        ranking: { degraded: [] },
        replay: { sessions: [], blocked: false },
        loaders: createLoaders(store, profiles),
        viewer: () =>
          (viewer ??= tokens.fromAuthorizationHeader(request.headers.get('authorization')).then((v) => {
            if (capture) capture.tokenExpiresAt = v?.expiresAt ?? null;
            return v;
          })),
      };
      if (capture) capture.context = ctx;
      return ctx;
    },
  });

  const runYoga = (req: IncomingMessage, res: ServerResponse) => observer.within(req, () => void yoga.handle(req, res));
  // Every path is yoga's (GraphQL, health, readiness, metrics, GraphiQL). A body-carrying request is checked for
  // CSRF and read within the size limit first, and an identical feed request is answered from the last response's
  // bytes without GraphQL (src/http/replay.ts).
  server = createServer(
    observer.wrap((req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return runYoga(req, res);
      const csrf = csrfRejection(req);
      if (csrf) return sendRequestError(res, 403, 'CSRF_REJECTED', csrf);
      void readBodyWithin(req, res, security.maxBodyBytes).then((body) => {
        if (!body) return; // refused (413) or the client went away
        replays.serve(req, res, body, () => {
          // @whatwg-node reads a Buffer on req.body instead of the (now consumed) stream.
          if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
          runYoga(req, res);
        });
      });
    }),
  );
  server.keepAliveTimeout = 5000;

  return {
    yoga,
    server,
    feeds,
    metrics,
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
