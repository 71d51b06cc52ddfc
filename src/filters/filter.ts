import type { Post } from '../content';
import type { ViewerProfile } from '../features/viewers';

/** What a filter may look at besides the candidate itself. */
export interface FilterContext {
  readonly viewer: ViewerProfile | null;
}

/**
 * A filter removes candidates after hydration, before ranking. To add one: copy `nsfw.ts`, register it in
 * `index.ts` and list it in a feed pipeline. `keep` is called once per candidate and must be cheap and pure.
 */
export interface Filter {
  readonly name: string;
  keep(post: Post, ctx: FilterContext): boolean;
}
