import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getVariableValues, GraphQLError, type ExecutionArgs, type OperationDefinitionNode } from 'graphql';
import { createSchema, createYoga, maskError as yogaMaskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { resolvers } from '../resolvers';
import type { TokenService, Viewer } from './auth/tokens';
import { repoRoot, type Config } from './config';
import type { GatewayContext } from './context';
import { isGatewayError } from './errors';
import { createLoaders } from './features/loaders';
import { ViewerProfiles } from './features/viewer-profiles';
import { FeedService } from './feed/service';
import type { RankerRegistry } from './rankers/registry';
import type { Store } from './store/store';
import { EmbeddedViewerState, type ViewerState } from './filters/viewer-state';
import { MemoryFeatureLog, type FeatureLog } from './mle/feature-log';
import { FEED_PIPELINES, type FeedKind, type FeedPipeline } from './pipeline/feeds';
import type { Logger } from './telemetry/logger';
import { checkReadiness, sendReadiness } from './telemetry/health';
import { createRequestObserver } from './telemetry/http';
import { createMetrics, type Metrics } from './telemetry/metrics';
import { Replayer, ResponseCache } from './cache/responses';
import { csrfRejection, readBodyWithin, sendRequestError } from './security/http';
import { aliasRule, depthRule, useRequestLimits } from './security/limits';
import { loadTrustedDocuments, useTrustedDocuments } from './security/trusted-documents';

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
  /** Where seen posts and viewer settings live. @default in-process */
  readonly viewerState?: ViewerState;
  /** Where served features are logged for training. @default in-process, bounded */
  readonly featureLog?: FeatureLog;
  /** Feed pipelines. @default FEED_PIPELINES (src/pipeline/feeds.ts) */
  readonly pipelines?: Readonly<Record<FeedKind, FeedPipeline>>;
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

const DEFAULT_QUERY = `# Welcome to the ranking gateway. Press the run button (or Ctrl-Enter).
# In development the Headers tab below carries a demo viewer's token, so personalizedFeed answers as that viewer;
# contextualFeed needs no token at all.
query Feeds {
  home: personalizedFeed(first: 5) {
    rankedBy { id version }
    edges { rank score node { id title score numComments createdAt community { name } } }
    pageInfo { hasNextPage endCursor }
  }
  pics: contextualFeed(context: { community: "pics" }, first: 3, ranker: "top") {
    rankedBy { id }
    edges { rank score node { title score url } }
  }
  rankers { id version description }
}
`;

const SIGNED_OUT_QUERY = `# Welcome to the ranking gateway. Press the run button (or Ctrl-Enter).
# contextualFeed needs no token; personalizedFeed needs "Authorization: Bearer <token>" in the Headers tab.
query Feeds {
  pics: contextualFeed(context: { community: "pics" }, first: 5) {
    rankedBy { id version }
    edges { rank score node { id title score numComments createdAt community { name } } }
    pageInfo { hasNextPage endCursor }
  }
  rankers { id version description }
}
`;

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, store, rankers, tokens, logger } = deps;
  const metrics = createMetrics();
  const viewerState = deps.viewerState ?? new EmbeddedViewerState();
  const feeds = new FeedService({
    store,
    rankers,
    logger,
    metrics,
    cursorSecret: config.cursorSecret,
    snapshotTtlSeconds: config.snapshotTtlSeconds,
    snapshotMaxItems: config.snapshotMaxItems,
    viewerState,
    featureLog: deps.featureLog ?? new MemoryFeatureLog(),
    pipelines: deps.pipelines,
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

  const { security } = config;
  const schema = createSchema<NodeServerContext & GatewayContext>({ typeDefs: loadTypeDefs(), resolvers });
  // Checked against the schema and the limits now: a bad manifest stops start-up, not a client's request.
  const trusted = security.trustedDocumentsPath
    ? loadTrustedDocuments(security.trustedDocumentsPath, schema, [depthRule(security.maxDepth), aliasRule(security.maxAliases)])
    : null;
  if (trusted) {
    logger.info({ documents: trusted.size, arbitraryOperations: security.allowArbitraryOperations }, 'trusted documents loaded');
  }

  // Replayed responses (src/cache/responses.ts): an identical feed request answered from the bytes of the last one.
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
  });
  rankers.onReload(() => replays.clear());

  const yoga = createYoga<NodeServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // GraphiQL's files come from the package, not a CDN: no request leaves the machine.
    renderGraphiQL,
    graphiql: config.graphiql
      ? {
          title: 'Ranking gateway',
          defaultQuery: deps.demoToken ? DEFAULT_QUERY : SIGNED_OUT_QUERY,
          headers: deps.demoToken ? JSON.stringify({ Authorization: `Bearer ${deps.demoToken}` }, null, 2) : undefined,
          shouldPersistHeaders: false,
        }
      : false,
    logging: {
      debug: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }, 'yoga'),
      info: (...args: unknown[]) => logger.info({ yoga: args.map(String) }, 'yoga'),
      warn: (...args: unknown[]) => logger.warn({ yoga: args.map(String) }, 'yoga'),
      error: (...args: unknown[]) => logger.error({ yoga: args.map((a) => (a instanceof Error ? a.stack : String(a))) }, 'yoga'),
    },
    plugins: [
      ...(trusted ? [useTrustedDocuments(trusted, security.allowArbitraryOperations)] : []),
      useRequestLimits(security),
      useRankingExtensions(),
      observer.plugin,
      // Operations run as compiled JavaScript (graphql-jit), compiled once per parsed document (yoga keeps the
      // documents it parsed): a cold home page's 25 edges cost ~300 field executions, each with its own resolve info,
      // argument map and promise bookkeeping in the generic executor. graphql-jit coerces variables itself and knows
      // nothing of @oneOf: variables graphql-js would refuse go to the standard executor, which refuses them as usual.
      useGraphQlJit({}, { enableIf: variablesAccepted }),
    ],
    maskedErrors: {
      // Development adds the original error's message and stack to a masked error; test and production never do.
      isDev: config.env === 'development',
      maskError(error, message, isDev) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (isGatewayError(original)) {
          const g = error instanceof GraphQLError ? error : null;
          return new GraphQLError(original.message, {
            nodes: g?.nodes,
            source: g?.source,
            positions: g?.positions,
            path: g?.path,
            extensions: { ...original.details, code: original.code },
          });
        }
        const masked = yogaMaskError(error, message, isDev);
        if (masked !== error) {
          // Unexpected: the client sees a generic INTERNAL_SERVER_ERROR, the log keeps the stack.
          const cause = original instanceof Error ? original : error;
          logger.error({ err: cause, path: (error as GraphQLError)?.path }, 'unexpected error while resolving');
        }
        return masked;
      },
    },
    context: ({ request, req }): GatewayContext => {
      let viewer: Promise<Viewer | null> | null = null;
      const capture = req ? replays.captureOf(req) : undefined;
      const ctx: GatewayContext = {
        feeds,
        rankers,
        viewerState,
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

  const pipelines = deps.pipelines ?? FEED_PIPELINES;
  const server = createServer(observer.wrap((req: IncomingMessage, res: ServerResponse) => {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (pathname === '/readyz') {
      sendReadiness(res, checkReadiness({ store, rankers, pipelines, accepting: () => server.listening }));
      return;
    }
    if (pathname === '/metrics' && req.method === 'GET') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (pathname === '/' && req.method === 'GET') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    // Everything else is yoga's: GraphQL at /graphql (and its 404s). CSRF and the body size are checked first.
    const csrf = csrfRejection(req);
    if (csrf) {
      sendRequestError(res, 403, 'CSRF_REJECTED', csrf);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
      observer.within(req, () => void yoga.handle(req, res));
      return;
    }
    void readBodyWithin(req, res, security.maxBodyBytes).then((body) => {
      if (!body) return; // refused (413) or the client went away
      // An identical feed request is answered from the last response's bytes; anything else goes to yoga.
      replays.serve(req, res, body, () => {
        // @whatwg-node reads a Buffer on req.body instead of the (now consumed) stream.
        if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
        observer.within(req, () => void yoga.handle(req, res));
      });
    });
  }));
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

/**
 * Adds `extensions.requestId` (the id in the feature log and the logs) to every response, and
 * `extensions.ranking.degraded` to a response when any feed in it was served without a source (or a
 * per-request filter) that failed or timed out: the client learns its answer is partial.
 */
/**
 * Whether graphql-js would accept the operation's variables (no variables: yes). Checked per request, before
 * graphql-jit runs; a refusal leaves the operation to the standard executor, which reports it with its usual errors.
 */
function variablesAccepted(args: ExecutionArgs): boolean {
  const operation = args.document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition' && (args.operationName == null || d.name?.value === args.operationName),
  );
  const definitions = operation?.variableDefinitions ?? [];
  if (definitions.length === 0) return true;
  return getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 1 }).errors === undefined;
}

function useRankingExtensions(): Plugin<GatewayContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          const ctx = args.contextValue as GatewayContext;
          if (!result || Symbol.asyncIterator in result) return;
          const degraded = ctx.ranking.degraded;
          setResult({ ...result, extensions: { ...result.extensions, requestId: ctx.requestId, ...(degraded.length > 0 ? { ranking: { degraded } } : {}) } });
        },
      };
    },
  };
}
