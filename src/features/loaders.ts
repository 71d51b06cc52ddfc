import DataLoader from 'dataloader';
import type { Community, Post } from '../content';
import type { Store } from '../store/store';
import { withSpan } from '../telemetry/tracing';
import type { ViewerProfiles } from './viewer-profiles';
import type { ViewerProfile } from './viewers';

/**
 * Request-scoped DataLoaders, one per entity type. Everything a request reads about posts, communities and the
 * viewer goes through them: the pipeline's hydration and the GraphQL field resolvers alike, so a post hydrated for
 * ranking is not fetched again to answer `node { title }`, and loads issued in the same tick become one batch (one
 * MGET) per entity type. They live for one request only, so nothing cached here outlives it.
 */
export interface Loaders {
  readonly posts: DataLoader<string, Post | null>;
  readonly communities: DataLoader<string, Community | null>;
  readonly viewers: DataLoader<string, ViewerProfile>;
}

export function createLoaders(store: Store, profiles: ViewerProfiles): Loaders {
  return {
    posts: new DataLoader<string, Post | null>(
      (ids) => withSpan('features.posts', { 'batch.size': ids.length, 'store.kind': store.kind }, () => store.getPosts(ids)),
    ),
    communities: new DataLoader<string, Community | null>(
      (names) => withSpan('features.communities', { 'batch.size': names.length, 'store.kind': store.kind }, () => store.getCommunities(names)),
    ),
    viewers: new DataLoader<string, ViewerProfile>((ids) => profiles.getMany(ids)),
  };
}
