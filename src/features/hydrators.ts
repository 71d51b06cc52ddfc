import type { Community, Post } from '../content';
import { withSpan } from '../telemetry/tracing';
import type { Loaders } from './loaders';
import type { FeatureInput } from './registry';
import { titleTokens } from './title-tokens';
import type { ViewerProfile } from './viewers';

/** What a run of a pipeline is about: who is asking and the feed's context. */
export interface RunRequest {
  /** The signed-in viewer's profile; null when signed out. */
  readonly viewer: ViewerProfile | null;
  /** The community of a community-context feed. */
  readonly community: string | null;
  /** The post of a post-context feed (already loaded, so its title and community are at hand). */
  readonly contextPost: Post | null;
}

/** A candidate being hydrated: what the feature registry computes features from, filled in stage by stage. */
export interface Candidate extends FeatureInput {
  community: Community | null;
}

/**
 * The first hydrator of a pipeline turns the gathered ids into candidates (one batch read): ids the store does not
 * know are dropped.
 */
export interface PostHydrator {
  readonly name: string;
  readonly input: 'ids';
  hydrate(ids: readonly string[], req: RunRequest, loaders: Loaders): Promise<Candidate[]>;
}

/**
 * A later hydrator adds to each candidate what it knows, in place, reading in a constant number of batches (never
 * one read per candidate). To add one: copy `communitiesHydrator`, register it in HYDRATORS and name it in a
 * pipeline's `hydration`.
 */
export interface CandidateHydrator {
  readonly name: string;
  readonly input: 'candidates';
  hydrate(candidates: Candidate[], req: RunRequest, loaders: Loaders): Promise<void>;
}

export type Hydrator = PostHydrator | CandidateHydrator;

/** Posts by id through the request's DataLoaders (one store batch), with what every feature input shares. */
export const postsHydrator: PostHydrator = {
  name: 'posts',
  input: 'ids',
  hydrate: (ids, req, loaders) =>
    withSpan('features.hydrate', { 'candidates.count': ids.length }, async () => {
      const loaded = await loaders.hydratePosts(ids);
      const candidate = candidateMaker(req);
      const out: Candidate[] = [];
      for (const post of loaded) if (post) out.push(candidate(post));
      return out;
    }),
};

/** Makes a request's candidates: what every candidate of one run shares (viewer, context) is worked out once. */
function candidateMaker(req: RunRequest): (post: Post) => Candidate {
  const contextTokens = req.contextPost ? new Set(titleTokens(req.contextPost.title)) : null;
  const contextCommunity = req.contextPost?.community ?? null;
  return (post) => ({ post, community: null, viewer: req.viewer, contextTokens, contextCommunity });
}

/** Each candidate's community (for community-scoped features): the distinct names are read in one batch. */
export const communitiesHydrator: CandidateHydrator = {
  name: 'communities',
  input: 'candidates',
  async hydrate(candidates, _req, loaders) {
    const distinct = new Set<string>();
    for (const c of candidates) distinct.add(c.post.community);
    const names = [...distinct];
    const loaded = await loaders.communities.loadMany(names);
    const byName = new Map<string, Community | null>();
    loaded.forEach((c, i) => byName.set(names[i]!, c instanceof Error ? null : c));
    for (const c of candidates) c.community = byName.get(c.post.community) ?? null;
  },
};

/** Hydrators by name, as feed pipelines refer to them. */
export const HYDRATORS: Readonly<Record<string, Hydrator>> = Object.fromEntries([postsHydrator, communitiesHydrator].map((h) => [h.name, h]));

/**
 * Hydrates posts already chosen (a page's edges, for the feature log and explanations) the way a pipeline run
 * hydrates its candidates, so they see the same feature values: one batch read of the posts (ids the store no longer
 * holds are left out) and one of their communities.
 */
export async function hydratePage(postIds: readonly string[], req: RunRequest, loaders: Loaders): Promise<Candidate[]> {
  const loaded = await loaders.posts.loadMany(postIds);
  const candidate = candidateMaker(req);
  const candidates: Candidate[] = [];
  for (const post of loaded) if (post && !(post instanceof Error)) candidates.push(candidate(post));
  await communitiesHydrator.hydrate(candidates, req, loaders);
  return candidates;
}
