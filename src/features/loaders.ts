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
  /**
   * Many posts in one store read (one MGET), in the order of `ids`: what the pipeline hydrates its candidates with.
   * The same as `posts.loadMany(ids)` without a promise and a cache entry per key (a cold home request hydrates
   * ~1,500 posts); later `posts.load` calls for these ids are answered from what this read, without the store.
   */
  hydratePosts(ids: readonly string[]): Promise<(Post | null)[]>;
}

export function createLoaders(store: Store, profiles: ViewerProfiles): Loaders {
  /** Posts this request has read in bulk: the posts loader answers from here before asking the store. */
  const hydrated = new Map<string, Post | null>();
  const readPosts = (ids: readonly string[]) =>
    withSpan('features.posts', { 'batch.size': ids.length, 'store.kind': store.kind }, () => store.getPosts(ids));
  return {
    posts: new DataLoader<string, Post | null>(async (ids) => {
      if (hydrated.size === 0) return readPosts(ids);
      const missing = ids.filter((id) => !hydrated.has(id));
      const read = missing.length > 0 ? await readPosts(missing) : [];
      const fromStore = new Map(missing.map((id, i) => [id, read[i] ?? null]));
      return ids.map((id) => (hydrated.has(id) ? hydrated.get(id)! : fromStore.get(id)!));
    }),
    async hydratePosts(ids) {
      const missing = ids.filter((id) => !hydrated.has(id));
      if (missing.length > 0) {
        const read = await readPosts(missing);
        missing.forEach((id, i) => hydrated.set(id, read[i] ?? null));
      }
      return ids.map((id) => hydrated.get(id)!);
    },
    communities: new DataLoader<string, Community | null>(
      (names) => withSpan('features.communities', { 'batch.size': names.length, 'store.kind': store.kind }, () => store.getCommunities(names)),
    ),
    viewers: new DataLoader<string, ViewerProfile>((ids) => profiles.getMany(ids)),
  };
}
