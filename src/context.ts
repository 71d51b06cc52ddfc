import type { Viewer } from './auth/tokens';
import type { ViewerState } from './filters/viewer-state';
import type { Loaders } from './features/loaders';
import type { FeedService, PageSession } from './feed/service';
import type { RankerRegistry } from './rankers/registry';

/** What every resolver receives. Built once per request by the server. */
export interface GatewayContext {
  readonly feeds: FeedService;
  readonly rankers: RankerRegistry;
  readonly viewerState: ViewerState;
  /** This request's id: in `extensions.requestId`, the feature log and the logs. */
  readonly requestId: string;
  /** Collected while resolving, reported in `extensions.ranking`. */
  readonly ranking: { readonly degraded: { feed: string; source: string; reason: string }[] };
  /**
   * The sessions this response's feeds were cut from, for the response cache (src/cache/responses.ts): a response
   * can be replayed only while all of them are current. `blocked` when a feed must not be replayed (a refresh, a
   * fallback or degraded list).
   */
  readonly replay: { readonly sessions: PageSession[]; blocked: boolean };
  /** Request-scoped DataLoaders (posts, communities, viewers). */
  readonly loaders: Loaders;
  /**
   * The verified viewer, or null when no Authorization header was sent. Rejects with UNAUTHENTICATED when a header
   * was sent but is not a valid token; only fields that use the viewer see that error.
   */
  readonly viewer: () => Promise<Viewer | null>;
}
