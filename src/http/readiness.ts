import { useReadinessCheck, type Plugin } from 'graphql-yoga';
import type { RankerRegistry } from '../rankers/registry';
import type { Store } from '../store/store';

export interface Readiness {
  readonly ready: boolean;
  /** Why not, one line each (no keys, no user data); empty when ready. */
  readonly reasons: readonly string[];
  readonly checks: {
    readonly accepting: boolean;
    readonly store: { readonly kind: Store['kind']; readonly ok: boolean; readonly reason?: string };
    readonly rankers: { readonly ok: boolean; readonly required: readonly string[]; readonly missing: readonly string[] };
  };
}

export interface ReadinessDeps {
  readonly store: Store;
  readonly rankers: RankerRegistry;
  /** The rankers the feeds default to (signed in and signed out): each must have a version serving. */
  readonly requiredRankers: readonly string[];
  /**
   * Whether the server accepts connections. False before it listens and from the first moment of a shutdown
   * (`server.close()` stops listening at once), so readiness turns 503 as soon as draining starts.
   */
  readonly accepting: () => boolean;
}

/**
 * Whether this instance should receive traffic. Ready when it accepts connections, its store is not degraded (for
 * Redis: reachable, and known to hold the content served; `Store.health()`, no I/O), and every ranker a feed
 * defaults to has a version serving. Cheap enough to be polled every second.
 */
export function checkReadiness(deps: ReadinessDeps): Readiness {
  const reasons: string[] = [];
  const accepting = deps.accepting();
  if (!accepting) reasons.push('not accepting connections (shutting down, or not listening yet)');

  const health = deps.store.health();
  if (health.degraded) reasons.push(`store (${deps.store.kind}): ${health.reason ?? 'degraded'}`);

  const required = [...new Set(deps.requiredRankers)].sort();
  const missing = required.filter((id) => !deps.rankers.variant(id)?.ranker);
  for (const id of missing) {
    const status = deps.rankers.variant(id)?.status;
    reasons.push(status ? `ranker "${id}" has no version serving (${status})` : `ranker "${id}" is not configured`);
  }

  return {
    ready: reasons.length === 0,
    reasons,
    checks: {
      accepting,
      store: { kind: deps.store.kind, ok: !health.degraded, ...(health.degraded ? { reason: health.reason ?? 'degraded' } : {}) },
      rankers: { ok: missing.length === 0, required, missing },
    },
  };
}

/**
 * `/readyz` through yoga's readiness plugin: 200 `{"status":"ready",...}`, or 503
 * `{"status":"unavailable","reasons":[...],...}`, never cached.
 */
export function useReadiness(deps: ReadinessDeps, endpoint = '/readyz'): Plugin {
  return useReadinessCheck({
    endpoint,
    check: ({ fetchAPI }) => {
      const readiness = checkReadiness(deps);
      const body = JSON.stringify({ status: readiness.ready ? 'ready' : 'unavailable', reasons: readiness.reasons, checks: readiness.checks });
      return new fetchAPI.Response(body, { status: readiness.ready ? 200 : 503, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
    },
  });
}
