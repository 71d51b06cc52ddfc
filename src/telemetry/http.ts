import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { withStageMetrics } from './stage-metrics';
import { spansExported, tracer } from './tracing';

/** What one HTTP request did, filled in as it goes: by the HTTP layer, then (for GraphQL) by the yoga plugin. */
interface RequestRecord {
  /** The GraphQL context's `requestId` once there is one (the id in `extensions.requestId`), else one made here. */
  requestId: string;
  /** The server span of a GraphQL request, started by `open` (null before, and for other paths). */
  span: Span | null;
  /** The OpenTelemetry context GraphQL runs in (the span's, with the stage metrics), made by `open`; entered by `within`. */
  context: Context | null;
  /** When the request arrived (ms since the epoch, fractional): the server span's start, however late it is made. */
  readonly startedAt: number;
  readonly graphql: boolean;
  /** The operation's name (GraphQL's Name grammar, at most 64 characters), "anonymous", or null before parsing. */
  operation: string | null;
  operationType: string | null;
  /** The operation's root fields, sorted and comma-separated; null until the document has validated. */
  rootFields: string | null;
  readonly errorCodes: Set<string>;
}

export interface RequestObserverOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Paths served by yoga: they get a server span (the parent of every stage span), continuing an incoming `traceparent`. */
  readonly graphqlPaths: readonly string[];
  /** Every path the server answers; any other reads as "other" in the `route` label. */
  readonly routes: readonly string[];
  /** Paths polled by machines (probes, scrapes): a successful answer is logged at debug level, not info. */
  readonly quietRoutes?: readonly string[];
}

export interface RequestObserver {
  /**
   * Wraps the server's request handler: each request gets a request id (`x-request-id`), a server span when it is a
   * GraphQL request, and, when its response is done, one log line and its latency in the metrics.
   */
  wrap(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Runs `fn` in the request's OpenTelemetry context (its server span, its stage metrics), so every span started
   * under it is a child of the request's. The handler enters it where GraphQL runs: a replayed response needs no
   * context, and entering one (an AsyncLocalStorage run) would add its bookkeeping to a replay, which otherwise does
   * little more than write kept bytes.
   */
  within<T>(req: IncomingMessage, fn: () => T): T;
  /** The yoga plugin that tells the HTTP layer which operation a request ran, its request id and its error codes. */
  readonly plugin: Plugin<ObservedContext, { req?: IncomingMessage }>;
  /** What the plugin learnt about a request's operation so far (null for a request it did not see). */
  operationOf(req: IncomingMessage): { readonly name: string; readonly type: string; readonly rootFields: string; readonly errors: number } | null;
  /**
   * Records a request answered without GraphQL (a replayed response) as if it had run `operation`; returns the
   * request's id, for the response.
   */
  replayed(req: IncomingMessage, operation: { readonly name: string; readonly type: string; readonly rootFields: string }): string;
}

/** The parts of the GraphQL context this plugin reads: node's request (yoga's server context) and the request id. */
interface ObservedContext {
  readonly req?: IncomingMessage;
  readonly res?: ServerResponse;
  readonly requestId?: unknown;
}

const METHODS = new Set(['GET', 'POST', 'OPTIONS', 'HEAD']);
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,47}$/;
/** At most this many distinct error codes are noted per request. */
const MAX_CODES = 8;

export function createRequestObserver(opts: RequestObserverOptions): RequestObserver {
  const { logger, metrics } = opts;
  const records = new WeakMap<IncomingMessage, RequestRecord>();
  const quiet = new Set(opts.quietRoutes ?? []);

  function finish(req: IncomingMessage, res: ServerResponse, rec: RequestRecord, route: string, pathname: string, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const status = res.statusCode;
    // 'close' before 'finish': the client went away (or the socket was destroyed) before the whole answer was sent.
    const aborted = !res.writableFinished;
    const method = METHODS.has(req.method ?? '') ? req.method! : 'other';
    metrics.httpInFlight.dec();
    metrics.httpRequests.observe({ route, method, status: String(status) }, seconds);

    if (rec.operation !== null) {
      const type = rec.operationType ?? 'unknown';
      const rootFields = rec.rootFields ?? '-';
      // One bound for the combination: a client can vary names and fields, but not the size of the registry.
      const admitted = metrics.operationLabels.admit(`${rec.operation}\u0000${type}\u0000${rootFields}`);
      const operation = admitted ? rec.operation : 'other';
      metrics.operations.observe({ operation, type, root_fields: admitted ? rootFields : 'other' }, seconds);
      for (const code of rec.errorCodes) metrics.operationErrors.inc({ operation, code });
    }

    // A GraphQL request answered before GraphQL ran (refused, or the client went away) is traced too.
    if (rec.graphql && !rec.context && spansExported()) open(req, rec);
    if (rec.span) {
      rec.span.setAttribute('http.response.status_code', status);
      if (status >= 500) rec.span.setStatus({ code: SpanStatusCode.ERROR });
      if (aborted) rec.span.setAttribute('http.aborted', true);
      rec.span.end();
    }

    const level = status >= 500 ? 'error' : quiet.has(route) && status < 400 ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const line = {
      requestId: rec.requestId,
      method: req.method,
      path: pathname,
      status,
      durationMs: Math.round(seconds * 1e4) / 10,
      ...(rec.operation !== null ? { operation: rec.operation, operationType: rec.operationType, rootFields: rec.rootFields } : {}),
      ...(rec.errorCodes.size > 0 ? { errors: [...rec.errorCodes] } : {}),
      ...(rec.span ? { traceId: rec.span.spanContext().traceId } : {}),
      ...(aborted ? { aborted: true } : {}),
    };
    logger[level](line, 'request');
  }

  function wrap(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      const started = process.hrtime.bigint();
      const pathname = pathOf(req.url);
      const route = opts.routes.includes(pathname) ? pathname : 'other';
      const graphql = opts.graphqlPaths.includes(pathname);
      // The span and context are made when first needed (`open`): a replayed response needs neither unless spans
      // are exported, and a replay, which only writes kept bytes, should not pay for making them.
      const rec: RequestRecord = {
        requestId: randomUUID(),
        span: null,
        context: null,
        startedAt: performance.timeOrigin + performance.now(),
        graphql,
        operation: null,
        operationType: null,
        rootFields: null,
        errorCodes: new Set(),
      };
      records.set(req, rec);
      res.setHeader('x-request-id', rec.requestId);
      metrics.httpInFlight.inc();
      res.once('close', () => finish(req, res, rec, route, pathname, started));
      handler(req, res);
    };
  }

  /**
   * Makes the request's OpenTelemetry context and, for a GraphQL path, its server span (started when the request
   * arrived). A caller's `traceparent` makes a GraphQL request part of its trace; without one a new trace starts here.
   */
  function open(req: IncomingMessage, rec: RequestRecord): Context {
    if (rec.context) return rec.context;
    let ctx = withStageMetrics(rec.graphql ? propagation.extract(ROOT_CONTEXT, req.headers) : ROOT_CONTEXT, metrics);
    if (rec.graphql) {
      const pathname = pathOf(req.url);
      rec.span = tracer.startSpan(
        `${METHODS.has(req.method ?? '') ? req.method : 'HTTP'} ${pathname}`,
        { kind: SpanKind.SERVER, startTime: rec.startedAt, attributes: { 'http.request.method': req.method ?? '', 'url.path': pathname, 'http.route': pathname } },
        ctx,
      );
      ctx = trace.setSpan(ctx, rec.span);
    }
    rec.context = ctx;
    return ctx;
  }

  function within<T>(req: IncomingMessage, fn: () => T): T {
    const rec = records.get(req);
    return rec ? context.with(open(req, rec), fn) : fn();
  }

  const plugin: RequestObserver['plugin'] = {
    onParse({ context: ctx }) {
      const rec = ctx.req ? records.get(ctx.req) : undefined;
      if (!rec) return;
      return ({ result }) => {
        if (!isDocument(result)) return;
        const op = getOperationAST(result, ctx.params?.operationName ?? undefined);
        const name = op?.name?.value;
        rec.operation = name === undefined ? 'anonymous' : OPERATION_NAME.test(name) ? name : 'other';
        rec.operationType = op?.operation ?? null;
      };
    },
    onExecute({ args }) {
      const ctx = args.contextValue;
      const rec = ctx.req ? records.get(ctx.req) : undefined;
      if (!rec) return;
      if (typeof ctx.requestId === 'string') {
        rec.requestId = ctx.requestId;
        if (ctx.res && !ctx.res.headersSent) ctx.res.setHeader('x-request-id', rec.requestId);
      }
      // After validation: every root field exists in the schema, so the label's values are bounded by it.
      rec.rootFields = rootFieldsOf(args.document, args.operationName ?? undefined);
      rec.span?.setAttributes({
        'graphql.operation.name': rec.operation ?? 'anonymous',
        'graphql.operation.type': rec.operationType ?? 'unknown',
        'graphql.root_fields': rec.rootFields,
        'gateway.request_id': rec.requestId,
      });
    },
    onResultProcess({ result, serverContext }) {
      const rec = serverContext.req ? records.get(serverContext.req) : undefined;
      if (!rec) return;
      for (const r of Array.isArray(result) ? result : [result]) {
        if (!r || typeof r !== 'object' || Symbol.asyncIterator in r) continue;
        for (const error of (r as ExecutionResult).errors ?? []) {
          if (rec.errorCodes.size >= MAX_CODES) break;
          const code = error.extensions?.code;
          rec.errorCodes.add(typeof code === 'string' && ERROR_CODE.test(code) ? code : 'UNKNOWN');
        }
      }
      if (rec.span && rec.errorCodes.size > 0) rec.span.setAttribute('graphql.error_codes', [...rec.errorCodes]);
    },
  };

  function operationOf(req: IncomingMessage) {
    const rec = records.get(req);
    if (!rec || rec.operation === null || rec.operationType === null || rec.rootFields === null) return null;
    return { name: rec.operation, type: rec.operationType, rootFields: rec.rootFields, errors: rec.errorCodes.size };
  }

  function replayed(req: IncomingMessage, operation: { name: string; type: string; rootFields: string }): string {
    const rec = records.get(req);
    if (!rec) return randomUUID();
    const { requestId } = rec;
    if (spansExported()) open(req, rec);
    rec.operation = operation.name;
    rec.operationType = operation.type;
    rec.rootFields = operation.rootFields;
    rec.span?.setAttributes({
      'graphql.operation.name': operation.name,
      'graphql.operation.type': operation.type,
      'graphql.root_fields': operation.rootFields,
      'gateway.request_id': requestId,
      'cache.replayed': true,
    });
    return requestId;
  }

  return { wrap, within, plugin, operationOf, replayed };
}

/** The request's path without its query string (which may carry a query's variables), bounded for logs. */
function pathOf(url: string | undefined): string {
  const p = (url ?? '/').split('?', 1)[0]!;
  return p.length > 128 ? `${p.slice(0, 128)}…` : p;
}

function isDocument(value: unknown): value is DocumentNode {
  return typeof value === 'object' && value !== null && (value as DocumentNode).kind === Kind.DOCUMENT;
}

/** The executed operation's root field names (not aliases), through fragments at the root; sorted, unique. */
function rootFieldsOf(document: DocumentNode, operationName: string | undefined): string {
  const op = getOperationAST(document, operationName);
  if (!op) return '-';
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const names = new Set<string>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) names.add(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet);
      else if (!visited.has(sel.name.value)) {
        visited.add(sel.name.value);
        const f = fragments.get(sel.name.value);
        if (f) walk(f.selectionSet);
      }
    }
  };
  walk(op.selectionSet);
  const joined = [...names].sort().join(',');
  return joined.length <= 200 ? joined : 'other';
}
