/**
 * The closed set of errors the API promises (`errors[].extensions.code`). Anything thrown that is not a
 * `GatewayError` (or a GraphQL validation error) is masked as INTERNAL_SERVER_ERROR by the server and logged.
 *
 * Client failures come first; the server-side codes follow.
 */
export const ErrorCodes = {
  /** Missing, malformed, forged or expired bearer token where a viewer is required. */
  UNAUTHENTICATED: { http: 401, client: true },
  /** The caller is known but may not do this (reserved for the MLE tools). */
  FORBIDDEN: { http: 403, client: true },
  /** A cursor that did not come from this feed request, or was altered. */
  INVALID_CURSOR: { http: 400, client: true },
  /** A well-formed cursor whose ranked snapshot has expired or been replaced: start again without `after`. */
  CURSOR_EXPIRED: { http: 410, client: true },
  /** `ranker` names no known ranker; the message lists the valid ids. */
  UNKNOWN_RANKER: { http: 400, client: true },
  /** An argument outside its documented range. */
  BAD_USER_INPUT: { http: 400, client: true },
  /** The request body is larger than `MAX_BODY_BYTES`. */
  BODY_TOO_LARGE: { http: 413, client: true },
  /** The document has more lexical tokens than `MAX_TOKENS`. */
  TOKEN_LIMIT_EXCEEDED: { http: 400, client: true },
  /** Fields nest deeper than `MAX_DEPTH`. */
  DEPTH_LIMIT_EXCEEDED: { http: 400, client: true },
  /** More aliased fields than `MAX_ALIASES`. */
  ALIAS_LIMIT_EXCEEDED: { http: 400, client: true },
  /** The operation's cost (page sizes multiplied through nesting) is above `MAX_COST`. */
  COST_LIMIT_EXCEEDED: { http: 400, client: true },
  /** `__schema` or `__type` while introspection is off (production default). */
  INTROSPECTION_DISABLED: { http: 400, client: true },
  /** A trusted-document hash the gateway does not know. */
  PERSISTED_QUERY_NOT_FOUND: { http: 404, client: true },
  /** Operation text sent where only trusted documents are accepted. */
  PERSISTED_QUERY_ONLY: { http: 400, client: true },
  /** A request a browser could send cross-site without a CORS preflight (form or text body) and no preflight header. */
  CSRF_REJECTED: { http: 403, client: true },
  /** A community or post named as a feed context does not exist. */
  NOT_FOUND: { http: 404, client: true },
  /** A dependency (the store) did not answer. */
  SERVICE_UNAVAILABLE: { http: 503, client: false },
  /** Anything unexpected. The message is generic; the stack is logged. */
  INTERNAL_SERVER_ERROR: { http: 500, client: false },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable fields for `extensions` (never secrets or user data). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;

/** Text a client sent, as an error message quotes it: at most `n` characters, on one line. */
export const truncateForMessage = (s: string, n = 64): string => (s.length > n ? `${s.slice(0, n)}…` : s).replace(/[\r\n]/g, ' ');
