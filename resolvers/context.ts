import type { Viewer } from '../src/auth/tokens';
import type { Loaders } from '../src/features/loaders';
import type { FeedService } from '../src/feed/service';
import type { PageSession } from '../src/feed/page';
import type { RankerRegistry } from '../src/rankers/registry';
import type { ViewerStateStore } from '../src/store/store';

/** What every resolver receives. Built once per request by the server. */
export interface GatewayContext {
  readonly feeds: FeedService;
  readonly rankers: RankerRegistry;
  /** What each viewer was shown and chose (the store's). */
  readonly viewerState: ViewerStateStore;
  /** This request's id: in `extensions.requestId`, the feature log and the logs. */
  readonly requestId: string;
  /** Collected while resolving, reported in `extensions.ranking`. */
  readonly ranking: { readonly degraded: { feed: string; source: string; reason: string }[] };
  /**
   * The sessions this response's feeds were cut from, for replayed responses (src/http/replay.ts): a response can be
   * replayed only while all of them are current. `blocked` when a feed must not be replayed (a refresh, a fallback
   * or degraded list).
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
