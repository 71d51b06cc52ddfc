import { context, propagation } from '@opentelemetry/api';
import { z } from 'zod';
import { withSpan } from '../telemetry/tracing';
import type { CandidateSource } from './source';

/**
 * A candidate source backed by a retrieval service over HTTP (JSON), e.g. an ANN index or a two-tower retriever.
 *
 * Protocol (documented in docs/rankers.md):
 *   POST {url}   content-type: application/json, traceparent: <W3C trace context>
 *   { "viewer": { "id": "u1", "subscriptions": [{ "community": "pics", "affinity": 0.8 }] } | null,
 *     "context": { "community": "pics" } | { "post": "abc12", "community": "pics", "title": "..." } | null,
 *     "limit": 300 }
 *   200 { "ids": ["abc12", ...] }          best first, at most `limit`; unknown ids are dropped later by hydration
 * Anything else (a non-200, a malformed body, a timeout) is a failure of this source; the pipeline then serves
 * without it (fail open) unless the step is fail-closed.
 */
const Response = z.object({ ids: z.array(z.string().max(64)).max(100_000) });

export function createRemoteSource(opts: { name: string; url: string; headers?: Record<string, string> }): CandidateSource {
  return {
    name: opts.name,
    fetch(req, _store, limit, signal) {
      return withSpan('candidates.remote.call', { 'source.name': opts.name, 'candidates.limit': limit }, async (span) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...opts.headers };
        propagation.inject(context.active(), headers);
        const body = {
          viewer: req.viewer ? { id: req.viewer.userId, subscriptions: req.viewer.subscriptions } : null,
          context: req.contextPost
            ? { post: req.contextPost.id, community: req.contextPost.community, title: req.contextPost.title }
            : req.community
              ? { community: req.community }
              : null,
          limit,
        };
        const res = await fetch(opts.url, { method: 'POST', headers, body: JSON.stringify(body), signal });
        span.setAttribute('http.response.status_code', res.status);
        if (res.status !== 200) throw new Error(`retrieval service answered HTTP ${res.status}`);
        const parsed = Response.safeParse(await res.json());
        if (!parsed.success) throw new Error('retrieval service answered a malformed body');
        return [...new Set(parsed.data.ids)].slice(0, limit);
      });
    },
  };
}
