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
  /** The context post's community, for a post-context feed; null otherwise. */
  readonly contextCommunity?: string | null;
}

const IMAGE_DOMAINS = /(^|\.)(imgur\.com|i\.imgur\.com|i\.redd\.it|flickr\.com|staticflickr\.com|photobucket\.com|tinypic\.com|deviantart\.com|minus\.com|quickmeme\.com|qkme\.me|memecrunch\.com)$/i;
const IMAGE_URL = /\.(jpe?g|png|gif|webp)(\?.*)?$/i;
const VIDEO_DOMAINS = /(^|\.)(youtube\.com|youtu\.be|vimeo\.com|liveleak\.com|gfycat\.com|vine\.co|twitch\.tv|dailymotion\.com)$/i;

const ranksByViewer = new WeakMap<ViewerProfile, ReadonlyMap<string, number>>();
/** 1-based position of each subscribed community in the viewer's subscriptions (the first, should one repeat). */
function affinityRanks(viewer: ViewerProfile): ReadonlyMap<string, number> {
  let ranks = ranksByViewer.get(viewer);
  if (!ranks) {
    const m = new Map<string, number>();
    viewer.subscriptions.forEach((s, i) => {
      if (!m.has(s.community)) m.set(s.community, i + 1);
    });
    ranksByViewer.set(viewer, (ranks = m));
  }
  return ranks;
}

const log10p = (x: number) => Math.log10(1 + Math.max(0, x));
const bool = (b: boolean) => (b ? 1 : 0);
const utc = (seconds: number) => new Date(seconds * 1000);

/** See `FeatureDefinition.scope`. */
export type FeatureScope = 'post' | 'community' | 'viewer' | 'context';

export interface FeatureDefinition {
  readonly name: string;
  readonly type: 'float' | 'int' | 'bool';
  readonly description: string;
  /** What a missing value (NaN) means for this feature. */
  readonly missing: string;
  /**
   * What the value depends on: `post` features read the post alone (so they are computed once per post and kept,
   * see `postFeatureRow`), `community` features the post's community alone, `viewer` features the post and the
   * viewer, `context` features the post and the feed's context post. A feature must read nothing beyond its scope.
   */
  readonly scope: FeatureScope;
  /**
   * For `viewer` and `context` features: the value reads the post through its community alone (`post.community`),
   * so a batch computes it once per run of candidates of one community instead of once per candidate (see
   * src/features/batch.ts). A feature marked so must read no other field of the post.
   */
  readonly byCommunity?: boolean;
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
    scope: 'post',
    compute: ({ post }) => hotScore(post.ups - post.downs, post.createdUtc),
  },
  {
    name: 'created_utc',
    type: 'int',
    description: 'Creation time, seconds since the Unix epoch.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.createdUtc,
  },
  {
    name: 'post_score',
    type: 'int',
    description: 'Net score (ups minus downs) as published.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.score,
  },
  {
    name: 'num_comments',
    type: 'int',
    description: 'Number of comments.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.numComments,
  },
  {
    name: 'upvote_ratio',
    type: 'float',
    description: 'ups / (ups + downs).',
    missing: 'no votes recorded',
    scope: 'post',
    compute: ({ post }) => (post.ups + post.downs > 0 ? post.ups / (post.ups + post.downs) : NaN),
  },
  {
    name: 'community_subscribers',
    type: 'int',
    description: "Subscriber count of the post's community.",
    missing: 'community absent from the manifest',
    scope: 'community',
    compute: ({ community }) => community?.subscribers ?? NaN,
  },
  {
    name: 'viewer_affinity',
    type: 'float',
    description: "The viewer's affinity for the post's community, in [0, 1]; 0 when not subscribed.",
    missing: 'signed-out request (no viewer)',
    scope: 'viewer',
    byCommunity: true,
    compute: ({ post, viewer }) => (viewer ? (viewer.affinity.get(post.community) ?? 0) : NaN),
  },
  {
    name: 'context_title_similarity',
    type: 'float',
    description: "Jaccard similarity of the post's title tokens with the context post's, in [0, 1].",
    missing: 'the feed has no post context',
    scope: 'context',
    compute: ({ post, contextTokens }) => (contextTokens ? jaccard(contextTokens, titleTokens(post.title)) : NaN),
  },
  {
    name: 'is_self',
    type: 'bool',
    description: '1 for a text (self) post, 0 for a link.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => (post.isSelf ? 1 : 0),
  },
  {
    name: 'over_18',
    type: 'bool',
    description: '1 for a post marked over 18.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => (post.over18 ? 1 : 0),
  },
  {
    name: 'ups',
    type: 'int',
    description: 'Upvotes as published (vote-fuzzed in the 2013 data).',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.ups,
  },
  {
    name: 'downs',
    type: 'int',
    description: 'Downvotes as published.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.downs,
  },
  {
    name: 'log_score',
    type: 'float',
    description: 'sign(s) * log10(max(|s|, 1)) of the net score: the vote part of hot.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => Math.sign(post.score) * Math.log10(Math.max(Math.abs(post.score), 1)),
  },
  {
    name: 'log_comments',
    type: 'float',
    description: 'log10(1 + comments).',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => log10p(post.numComments),
  },
  {
    name: 'comments_per_vote',
    type: 'float',
    description: 'Comments per vote cast: how much discussion a post draws for its attention.',
    missing: 'no votes recorded',
    scope: 'post',
    compute: ({ post }) => (post.ups + post.downs > 0 ? post.numComments / (post.ups + post.downs) : NaN),
  },
  {
    name: 'controversy',
    type: 'float',
    description: 'min(ups, downs) / max(ups, downs): 1 when votes split evenly.',
    missing: 'no votes recorded',
    scope: 'post',
    compute: ({ post }) => (Math.max(post.ups, post.downs) > 0 ? Math.min(post.ups, post.downs) / Math.max(post.ups, post.downs) : NaN),
  },
  {
    name: 'title_chars',
    type: 'int',
    description: 'Title length in characters.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.title.length,
  },
  {
    name: 'title_words',
    type: 'int',
    description: 'Title length in words.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => post.title.split(/\s+/).filter(Boolean).length,
  },
  {
    name: 'title_is_question',
    type: 'bool',
    description: 'The title ends with a question mark.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool(/\?\s*$/.test(post.title)),
  },
  {
    name: 'title_has_digit',
    type: 'bool',
    description: 'The title contains a digit.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool(/\d/.test(post.title)),
  },
  {
    name: 'title_upper_ratio',
    type: 'float',
    description: 'Share of upper-case letters among the title\'s letters (shouting).',
    missing: 'a title without letters',
    scope: 'post',
    compute: ({ post }) => {
      const letters = post.title.replace(/[^\p{L}]/gu, '');
      return letters.length > 0 ? letters.replace(/[^\p{Lu}]/gu, '').length / letters.length : NaN;
    },
  },
  {
    name: 'title_is_oc',
    type: 'bool',
    description: 'The title marks original content ("[OC]").',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool(/[[(]\s*oc\s*[\])]/i.test(post.title)),
  },
  {
    name: 'title_is_til',
    type: 'bool',
    description: 'The title starts with "TIL" (today I learned).',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool(/^\s*TIL\b/i.test(post.title)),
  },
  {
    name: 'link_is_image',
    type: 'bool',
    description: 'The link points to an image (image host or image file).',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool((post.domain !== null && IMAGE_DOMAINS.test(post.domain)) || (post.url !== null && IMAGE_URL.test(post.url))),
  },
  {
    name: 'link_is_video',
    type: 'bool',
    description: 'The link points to a video host.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => bool(post.domain !== null && VIDEO_DOMAINS.test(post.domain)),
  },
  {
    name: 'hour_of_day',
    type: 'int',
    description: 'Hour of creation, 0-23 UTC.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => utc(post.createdUtc).getUTCHours(),
  },
  {
    name: 'day_of_week',
    type: 'int',
    description: 'Day of creation, 0 (Sunday) to 6, UTC.',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => utc(post.createdUtc).getUTCDay(),
  },
  {
    name: 'post_year',
    type: 'int',
    description: 'Year of creation (UTC).',
    missing: 'never missing',
    scope: 'post',
    compute: ({ post }) => utc(post.createdUtc).getUTCFullYear(),
  },
  {
    name: 'community_log_subscribers',
    type: 'float',
    description: "log10(1 + subscribers) of the post's community.",
    missing: 'community absent from the manifest',
    scope: 'community',
    compute: ({ community }) => (community?.subscribers != null ? log10p(community.subscribers) : NaN),
  },
  {
    name: 'community_post_count',
    type: 'int',
    description: "Posts of the post's community in the corpus.",
    missing: 'community unknown',
    scope: 'community',
    compute: ({ community }) => community?.postCount ?? NaN,
  },
  {
    name: 'viewer_subscribed',
    type: 'bool',
    description: "Whether the viewer subscribes to the post's community.",
    missing: 'signed-out request (no viewer)',
    scope: 'viewer',
    byCommunity: true,
    compute: ({ post, viewer }) => (viewer ? bool(viewer.affinity.has(post.community)) : NaN),
  },
  {
    name: 'viewer_affinity_rank',
    type: 'int',
    description: "Rank of the post's community among the viewer's subscriptions (1 = strongest affinity).",
    missing: 'signed out, or the viewer does not subscribe to the community',
    scope: 'viewer',
    byCommunity: true,
    compute: ({ post, viewer }) => (viewer ? (affinityRanks(viewer).get(post.community) ?? NaN) : NaN),
  },
  {
    name: 'viewer_subscription_count',
    type: 'int',
    description: 'How many communities the viewer subscribes to.',
    missing: 'signed-out request (no viewer)',
    scope: 'viewer',
    byCommunity: true,
    compute: ({ viewer }) => (viewer ? viewer.subscriptions.length : NaN),
  },
  {
    name: 'viewer_shows_nsfw',
    type: 'bool',
    description: 'Whether the viewer opted in to over-18 posts.',
    missing: 'signed-out request (no viewer)',
    scope: 'viewer',
    byCommunity: true,
    compute: ({ viewer }) => (viewer ? bool(viewer.showNsfw) : NaN),
  },
  {
    name: 'context_same_community',
    type: 'bool',
    description: "Whether the post is in the context post's community.",
    missing: 'the feed has no post context',
    scope: 'context',
    byCommunity: true,
    compute: ({ post, contextCommunity }) => (contextCommunity ? bool(post.community === contextCommunity) : NaN),
  },
];

const BY_NAME = new Map(FEATURES.map((f) => [f.name, f]));

export function featureDefinition(name: string): FeatureDefinition | undefined {
  return BY_NAME.get(name);
}

export const featureNames = (): string[] => FEATURES.map((f) => f.name);
