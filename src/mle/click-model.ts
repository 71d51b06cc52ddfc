import type { Post } from '../content';
import { seededRandom, type ViewerProfile } from '../features/viewers';

/**
 * The simulated users' click model. The data set has no clicks, so training data for a learned home-feed ranker is
 * drawn from this model over the lists the gateway serves. It is written down here and in docs/rankers.md so that the
 * offline numbers can be judged for what they are: a model trained on simulated clicks, evaluated on simulated truth.
 *
 * A viewer u examines the post at 1-based position r with probability
 *     examine(r) = r ^ -POSITION_BIAS                                  (position bias, as in eye-tracking studies)
 * and, having examined it, clicks with probability
 *     attract(u, p) = sigmoid(BASE + AFFINITY·a + QUALITY·q + FRESHNESS·f + TASTE·t + NOISE·ε)
 * where
 *     a = u's affinity for p's community (0 when not subscribed),
 *     q = p's vote quality: log10(max(score, 1)) standardized over the corpus,
 *     f = exp(-age / 30 days), age measured from the corpus' newest post (the simulation's "now"),
 *     t = +1 when p's link kind (image, video, text, other) is u's favourite kind, else 0,
 *     ε = a fixed standard normal per (u, p): taste no feature can see.
 * A click is examine(r) · attract(u, p) > uniform draw. Everything is seeded from the user and post ids, so a run is
 * reproducible.
 */
export const CLICK_MODEL = {
  POSITION_BIAS: 0.8,
  BASE: -3.0,
  AFFINITY: 2.5,
  QUALITY: 0.9,
  FRESHNESS: 1.5,
  TASTE: 0.8,
  NOISE: 0.6,
  FRESHNESS_DAYS: 30,
} as const;

export type LinkKind = 'image' | 'video' | 'text' | 'other';
const KINDS: readonly LinkKind[] = ['image', 'video', 'text', 'other'];

export function linkKind(p: Post): LinkKind {
  if (p.isSelf) return 'text';
  const d = p.domain ?? '';
  if (/(^|\.)(imgur\.com|i\.redd\.it|flickr\.com|staticflickr\.com|quickmeme\.com|qkme\.me)$/i.test(d) || /\.(jpe?g|png|gif)$/i.test(p.url ?? '')) return 'image';
  if (/(^|\.)(youtube\.com|youtu\.be|vimeo\.com|liveleak\.com|gfycat\.com)$/i.test(d)) return 'video';
  return 'other';
}

/** A viewer's favourite link kind, derived from the user id like the rest of the profile. */
export function favouriteKind(userId: string): LinkKind {
  return KINDS[Math.floor(seededRandom(`kind:${userId}`)() * KINDS.length)]!;
}

/** Standard normal from two uniforms (Box-Muller). */
function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface ClickModelContext {
  /** The simulation's "now": the newest post's creation time. */
  readonly nowUtc: number;
  /** Mean and standard deviation of log10(max(score, 1)) over the corpus. */
  readonly qualityMean: number;
  readonly qualityStd: number;
}

export function clickModelContext(posts: readonly Post[]): ClickModelContext {
  let now = 0;
  let sum = 0;
  let sq = 0;
  for (const p of posts) {
    now = Math.max(now, p.createdUtc);
    const q = Math.log10(Math.max(p.score, 1));
    sum += q;
    sq += q * q;
  }
  const mean = sum / Math.max(posts.length, 1);
  const std = Math.sqrt(Math.max(sq / Math.max(posts.length, 1) - mean * mean, 1e-12));
  return { nowUtc: now, qualityMean: mean, qualityStd: std };
}

/** attract(u, p): the probability that u clicks p once u has examined it. */
export function attractiveness(viewer: ViewerProfile, post: Post, ctx: ClickModelContext): number {
  const m = CLICK_MODEL;
  const a = viewer.affinity.get(post.community) ?? 0;
  const q = (Math.log10(Math.max(post.score, 1)) - ctx.qualityMean) / ctx.qualityStd;
  const ageDays = Math.max(0, ctx.nowUtc - post.createdUtc) / 86400;
  const f = Math.exp(-ageDays / m.FRESHNESS_DAYS);
  const t = linkKind(post) === favouriteKind(viewer.userId) ? 1 : 0;
  const eps = normal(seededRandom(`taste:${viewer.userId}:${post.id}`));
  const logit = m.BASE + m.AFFINITY * a + m.QUALITY * q + m.FRESHNESS * f + m.TASTE * t + m.NOISE * eps;
  return 1 / (1 + Math.exp(-logit));
}

/** examine(r) for a 1-based position. */
export const examination = (position: number): number => position ** -CLICK_MODEL.POSITION_BIAS;

/**
 * Graded relevance for offline evaluation: the attractiveness bucketed into 0-4, free of position bias, over a
 * viewer's whole candidate set (not only what was served).
 */
export const relevanceGrade = (attract: number): number => Math.min(4, Math.floor(attract * 5));
