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
   * every candidate, up to its sources' limits); later `posts.load` calls for these ids are answered from what this
   * read, without the store. A store that answers posts in process (`Store.peekPost`, the embedded store) is asked
   * again instead: the request keeps none of them, so the candidates it ranked die young instead of living until it
   * ends.
   */
  hydratePosts(ids: readonly string[]): Promise<(Post | null)[]>;
  /**
   * A post or community this request has read already (any post, when the store answers in process: see
   * `hydratePosts`), without a promise; undefined when it has not (then use the loader). Field resolvers answer
   * from these when they can: a resolver that returns a value instead of a promise keeps GraphQL's execution
   * synchronous for that field (a cold home page resolves 25 posts and their communities).
   */
  peekPost(id: string): Post | null | undefined;
  peekCommunity(name: string): Community | null | undefined;
}

export function createLoaders(store: Store, profiles: ViewerProfiles): Loaders {
  /** Posts this request has read in bulk: the posts loader answers from here before asking the store. */
  const hydrated = new Map<string, Post | null>();
  /** Communities this request has read (what the communities loader answered). */
  const communities = new Map<string, Community | null>();
  const readPosts = (ids: readonly string[]) =>
    withSpan('features.posts', { 'batch.size': ids.length, 'store.kind': store.kind }, () => store.getPosts(ids));
  /** The store's own in-process answer, when it has one: then bulk reads are not kept here (see `hydratePosts`). */
  const inProcess = store.peekPost ? (id: string) => store.peekPost!(id) : null;
  return {
    posts: new DataLoader<string, Post | null>(async (ids) => {
      if (inProcess) return ids.map(inProcess);
      if (hydrated.size === 0) return readPosts(ids);
      const missing = ids.filter((id) => !hydrated.has(id));
      const read = missing.length > 0 ? await readPosts(missing) : [];
      const fromStore = new Map(missing.map((id, i) => [id, read[i] ?? null]));
      return ids.map((id) => (hydrated.has(id) ? hydrated.get(id)! : fromStore.get(id)!));
    }),
    async hydratePosts(ids) {
      if (inProcess) return readPosts(ids);
      if (hydrated.size === 0) {
        // The first read of a request (a cold feed's candidates): nothing to skip, and the read is the answer.
        const read = await readPosts(ids);
        for (let i = 0; i < ids.length; i++) hydrated.set(ids[i]!, read[i] ?? null);
        return read.length === ids.length ? read : ids.map((id) => hydrated.get(id)!);
      }
      const missing = ids.filter((id) => !hydrated.has(id));
      if (missing.length > 0) {
        const read = await readPosts(missing);
        missing.forEach((id, i) => hydrated.set(id, read[i] ?? null));
      }
      return ids.map((id) => hydrated.get(id)!);
    },
    // With an in-process store nothing is kept in `hydrated` (see hydratePosts): the store answers.
    peekPost: inProcess ?? ((id) => hydrated.get(id)),
    peekCommunity: (name) => communities.get(name),
    communities: new DataLoader<string, Community | null>((names) =>
      withSpan('features.communities', { 'batch.size': names.length, 'store.kind': store.kind }, async () => {
        const read = await store.getCommunities(names);
        names.forEach((name, i) => communities.set(name, read[i] ?? null));
        return read;
      }),
    ),
    viewers: new DataLoader<string, ViewerProfile>((ids) => profiles.getMany(ids)),
  };
}
