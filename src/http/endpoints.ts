import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

/** `GET /metrics`: the Prometheus registry in its text format. */
export function useMetricsEndpoint(registry: Registry, endpoint = '/metrics'): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint || request.method !== 'GET') return;
      return registry.metrics().then(
        (text) => endResponse(new fetchAPI.Response(text, { status: 200, headers: { 'content-type': registry.contentType } })),
        () => endResponse(new fetchAPI.Response(null, { status: 500 })),
      );
    },
  };
}

/** `GET /`: where a browser finds GraphiQL. */
export function useRootRedirect(to: string): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === '/' && request.method === 'GET') endResponse(new fetchAPI.Response(null, { status: 302, headers: { location: to } }));
    },
  };
}
