/**
 * A generated corpus shaped like the Reddit Top 2.5 Million data, for running without the real folder and for
 * benchmarks far larger than it (1M–5M posts).
 *
 * Everything is drawn from seeded PRNG streams, so the same options always give the same corpus, byte for byte.
 * The distributions are heavy-tailed on purpose: rankers, caches and feeds behave differently on a few huge
 * communities and a few huge posts than on uniform data.
 */
import { createHash } from 'node:crypto';
import type { Community, Corpus, DatasetInfo, Post } from '../content';
import {
  byName,
  type NormalizedOptions,
  type PlannedCommunity,
  planCommunities,
  toCommunity,
} from './synthetic-communities';
import { clamp, gaussian, mulberry32, streamSeed } from './synthetic-random';
import { DOMAINS, flat, makeTitle, makeUrl, pickWeighted } from './synthetic-text';

/** Part of the fingerprint: bump whenever the output for given options changes, so old snapshots are not reused. */
export const SYNTHETIC_GENERATOR_VERSION = 1;

export interface SyntheticOptions {
  posts?: number;
  communities?: number;
  seed?: number;
}

const DEFAULT_POSTS = 20_000;
const DEFAULT_COMMUNITIES = 100;
const DEFAULT_SEED = 1;
const MAX_POSTS = 100_000_000;
const MAX_COMMUNITIES = 1_000_000;

/** 2008-01-01T00:00:00Z .. 2013-08-15T23:59:59Z: the span of the upstream scrape, minus its sparse early years. */
export const SYNTHETIC_FIRST_UTC = 1_199_145_600;
export const SYNTHETIC_LAST_UTC = 1_376_611_199;
/** Growth rate of the post density over the span; 4.5 puts ~45% of posts in 2013 and ~1.5% in 2008, as upstream. */
const TIME_GROWTH = 4.5;
/** Pareto shape for scores: below 1.7 so p99/p50 stays above 10 (50^(1/a)), as in heavy-tailed vote counts. */
const SCORE_SHAPE = 1.4;
const SCORE_CAP = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// Public API

export function generateSyntheticCorpus(opts?: SyntheticOptions): Corpus {
  const o = normalizeOptions(opts);
  const plan = planCommunities(o);
  const posts: Post[] = [];
  for (const post of postsFromPlan(o, plan)) posts.push(post);
  return { info: infoFor(o), posts, communities: plan.map(toCommunity).sort(byName) };
}

/**
 * The posts of the synthetic corpus one at a time, in the same order as `generateSyntheticCorpus` (grouped by
 * community, communities by name), without holding them: for benchmarks that load millions of posts.
 */
export function* syntheticPosts(opts?: SyntheticOptions): Generator<Post, void, undefined> {
  const o = normalizeOptions(opts);
  yield* postsFromPlan(o, planCommunities(o));
}

/** The communities of the synthetic corpus (sorted by name), without generating its posts. */
export function syntheticCommunities(opts?: SyntheticOptions): Community[] {
  const o = normalizeOptions(opts);
  return planCommunities(o).map(toCommunity).sort(byName);
}

/** The `DatasetInfo` of the synthetic corpus for these options, without generating it. */
export function syntheticDatasetInfo(opts?: SyntheticOptions): DatasetInfo {
  return infoFor(normalizeOptions(opts));
}

// ---------------------------------------------------------------------------------------------------------------
// Options and info

function normalizeOptions(opts: SyntheticOptions | undefined): NormalizedOptions {
  const posts = opts?.posts ?? DEFAULT_POSTS;
  const communities = opts?.communities ?? DEFAULT_COMMUNITIES;
  const seed = opts?.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(posts) || posts < 0 || posts > MAX_POSTS) {
    throw new RangeError(`synthetic corpus: posts must be an integer in 0..${MAX_POSTS}, got ${posts}`);
  }
  if (!Number.isInteger(communities) || communities < 1 || communities > MAX_COMMUNITIES) {
    throw new RangeError(`synthetic corpus: communities must be an integer in 1..${MAX_COMMUNITIES}, got ${communities}`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`synthetic corpus: seed must be a safe integer, got ${seed}`);
  }
  return { posts, communities, seed };
}

function infoFor(o: NormalizedOptions): DatasetInfo {
  const fingerprint = createHash('sha256')
    .update(`synthetic/${SYNTHETIC_GENERATOR_VERSION}/seed=${o.seed}/posts=${o.posts}/communities=${o.communities}`)
    .digest('hex')
    .slice(0, 16);
  return {
    source: 'synthetic',
    description: `synthetic corpus (seed ${o.seed}, ${o.posts} posts, ${o.communities} communities)`,
    posts: o.posts,
    communities: o.communities,
    fingerprint,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Posts

/** Id numbers start at 36^4 so every id has at least five base-36 digits, as Reddit's did by 2008. */
const ID_BASE = 36 ** 4;
const SECONDS_PER_DAY = 86_400;

function* postsFromPlan(o: NormalizedOptions, plan: readonly PlannedCommunity[]): Generator<Post, void, undefined> {
  const rng = mulberry32(streamSeed(o.seed, 'posts'));
  const span = SYNTHETIC_LAST_UTC - SYNTHETIC_FIRST_UTC;
  const growth = Math.exp(TIME_GROWTH) - 1;
  let index = 0;
  for (const c of [...plan].sort(byName)) {
    const selfDomain = `self.${c.name}`;
    const domainTable = DOMAINS[c.kind];
    const cap = Math.min(SCORE_CAP, c.scoreScale * 200);
    const tailMass = 1 - (c.scoreScale / cap) ** SCORE_SHAPE;
    for (let k = 0; k < c.postCount; k++, index++) {
      // Exponentially growing density: later years hold most posts, as on Reddit.
      const createdUtc = SYNTHETIC_FIRST_UTC + Math.floor((span * Math.log(1 + rng() * growth)) / TIME_GROWTH);
      // (day, index) -> number is injective because index < posts, so ids are unique and still grow with time.
      const idNumber = ID_BASE + Math.floor((createdUtc - SYNTHETIC_FIRST_UTC) / SECONDS_PER_DAY) * o.posts + index;
      const id = idNumber.toString(36);

      // Truncated Pareto: heavy tail, but no single post with millions of votes.
      const score = Math.floor(c.scoreScale * (1 - rng() * tailMass) ** (-1 / SCORE_SHAPE));
      // Upstream downs are vote-fuzzed and often comparable to the score itself (median ~0.6x).
      const downs = Math.round(score * clamp(0.6 * Math.exp(gaussian(rng)), 0.02, 12));
      const isSelf = rng() < c.selfRate;
      const commentRatio = clamp(0.14 * Math.exp(1.05 * gaussian(rng)), 0.002, 30) * (isSelf ? 2.5 : 1);
      const numComments = Math.round(score * commentRatio);
      const over18 = rng() < (c.nsfw ? 0.85 : 0.004);

      const { title, slug } = makeTitle(rng, c.topicWords);
      const permalink = flat(['http://www.reddit.com/r/', c.name, '/comments/', id, '/', slug, '/']);
      let domain: string;
      let url: string;
      if (isSelf) {
        domain = selfDomain;
        url = permalink;
      } else {
        domain = pickWeighted(rng, domainTable);
        url = makeUrl(rng, domain, slug, createdUtc, c.name);
      }

      yield {
        id,
        community: c.name,
        title,
        url,
        permalink,
        score,
        ups: score + downs,
        downs,
        numComments,
        createdUtc,
        domain,
        over18,
        isSelf,
      };
    }
  }
}
