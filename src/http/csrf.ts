import type { IncomingMessage } from 'node:http';

/** Headers that make a browser send a CORS preflight, so a cross-site page cannot add them silently. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'graphql-preflight', 'apollo-require-preflight'] as const;

/** Content types a cross-site HTML form or a CORS-"simple" fetch can send without a preflight. */
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * CSRF: the gateway reads no cookies (identity is a bearer token a page cannot attach cross-site without a
 * preflight), and mutations are refused over GET. What is left is a body a cross-site page could post blind: a
 * form or text body, or one with no content type. Those are refused unless one of CSRF_HEADERS is present (which
 * forces a preflight). `application/json` and `application/graphql-response+json` always preflight.
 */
export function csrfRejection(req: IncomingMessage): string | null {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return null;
  if (CSRF_HEADERS.some((h) => req.headers[h] !== undefined)) return null;
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== '' && !SIMPLE_CONTENT_TYPES.includes(type)) return null;
  return type === ''
    ? 'A POST without Content-Type is refused: send Content-Type: application/json.'
    : `A ${type} POST is refused (a page on another site could send it): send Content-Type: application/json, or one of the headers ${CSRF_HEADERS.join(', ')}.`;
}
