import type { Community, Post } from '../content';
import { jaccard, titleTokens } from './title-tokens';
import type { ViewerProfile } from './viewers';

/** Reddit's epoch for the hot formula (2005-12-08T07:46:43Z), as published in reddit's `_sorts.pyx`. */
export const HOT_EPOCH = 1134028003;

/**
 * Reddit's published hot formula on the net score s = ups - downs:
 * sign(s) * log10(max(|s|, 1)) + (created_utc - 1134028003) / 45000.
 * One order of magnitude of votes is worth 45,000 seconds (12.5 hours) of recency.
 */
export function hotScore(netScore: number, createdUtc: number): number {
  const order = Math.log10(Math.max(Math.abs(netScore), 1));
  return Math.sign(netScore) * order + (createdUtc - HOT_EPOCH) / 45000;
}

/** What one feature is computed from: a candidate post, in the context of one request. */
export interface FeatureInput {
  readonly post: Post;
  readonly community: Community | null;
  /** The signed-in viewer's profile; null when signed out. */
  readonly viewer: ViewerProfile | null;
  /** Title tokens of the context post, for a post-context feed; null otherwise. */
  readonly contextTokens: ReadonlySet<string> | null;
}

export interface FeatureDefinition {
  readonly name: string;
  readonly type: 'float' | 'int' | 'bool';
  readonly description: string;
  /** What a missing value (NaN) means for this feature. */
  readonly missing: string;
  /** The value for one candidate; NaN when missing. Bools are 0 or 1. */
  readonly compute: (input: FeatureInput) => number;
}

/**
 * Every feature a ranker may ask for, by name. A ranker declares the names it needs and receives exactly those
 * columns, in its order (see `FeatureBatch`). Add a feature here and any ranker can use it.
 */
export const FEATURES: readonly FeatureDefinition[] = [
  {
    name: 'hot',
    type: 'float',
    description: "Reddit's hot score of the post (net votes against age).",
    missing: 'never missing',
    compute: ({ post }) => hotScore(post.ups - post.downs, post.createdUtc),
  },
  {
    name: 'created_utc',
    type: 'int',
    description: 'Creation time, seconds since the Unix epoch.',
    missing: 'never missing',
    compute: ({ post }) => post.createdUtc,
  },
  {
    name: 'post_score',
    type: 'int',
    description: 'Net score (ups minus downs) as published.',
    missing: 'never missing',
    compute: ({ post }) => post.score,
  },
  {
    name: 'num_comments',
    type: 'int',
    description: 'Number of comments.',
    missing: 'never missing',
    compute: ({ post }) => post.numComments,
  },
  {
    name: 'upvote_ratio',
    type: 'float',
    description: 'ups / (ups + downs).',
    missing: 'no votes recorded',
    compute: ({ post }) => (post.ups + post.downs > 0 ? post.ups / (post.ups + post.downs) : NaN),
  },
  {
    name: 'community_subscribers',
    type: 'int',
    description: "Subscriber count of the post's community.",
    missing: 'community absent from the manifest',
    compute: ({ community }) => community?.subscribers ?? NaN,
  },
  {
    name: 'viewer_affinity',
    type: 'float',
    description: "The viewer's affinity for the post's community, in [0, 1]; 0 when not subscribed.",
    missing: 'signed-out request (no viewer)',
    compute: ({ post, viewer }) => (viewer ? (viewer.affinity.get(post.community) ?? 0) : NaN),
  },
  {
    name: 'context_title_similarity',
    type: 'float',
    description: "Jaccard similarity of the post's title tokens with the context post's, in [0, 1].",
    missing: 'the feed has no post context',
    compute: ({ post, contextTokens }) => (contextTokens ? jaccard(contextTokens, titleTokens(post.title)) : NaN),
  },
  {
    name: 'is_self',
    type: 'bool',
    description: '1 for a text (self) post, 0 for a link.',
    missing: 'never missing',
    compute: ({ post }) => (post.isSelf ? 1 : 0),
  },
  {
    name: 'over_18',
    type: 'bool',
    description: '1 for a post marked over 18.',
    missing: 'never missing',
    compute: ({ post }) => (post.over18 ? 1 : 0),
  },
];

const BY_NAME = new Map(FEATURES.map((f) => [f.name, f]));

export function featureDefinition(name: string): FeatureDefinition | undefined {
  return BY_NAME.get(name);
}

export const featureNames = (): string[] => FEATURES.map((f) => f.name);
