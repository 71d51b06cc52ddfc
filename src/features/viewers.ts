import { createHash } from 'node:crypto';
import type { Community } from '../content';

/**
 * What the gateway knows of a viewer. The data set has no users, so a profile is derived from the user id alone:
 * the same id always gives the same profile, and any id is a valid viewer (an unseen id simply gets its profile).
 */
export interface ViewerProfile {
  readonly userId: string;
  /** Subscribed communities, strongest affinity first. */
  readonly subscriptions: readonly { readonly community: string; readonly affinity: number }[];
  /** Affinity in (0, 1] per subscribed community; absent means not subscribed. */
  readonly affinity: ReadonlyMap<string, number>;
  /** Whether the viewer opted in to over-18 posts. */
  readonly showNsfw: boolean;
}

/** sfc32: a small, fast, well-distributed PRNG; seeded from a hash so profiles are stable across processes. */
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

export function seededRandom(seed: string): () => number {
  const h = createHash('sha256').update(seed).digest();
  const rand = sfc32(h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12));
  for (let i = 0; i < 12; i++) rand(); // discard the first outputs, as sfc32's authors advise
  return rand;
}

export const MIN_SUBSCRIPTIONS = 5;
export const MAX_SUBSCRIPTIONS = 20;
/** Share of viewers who opt in to over-18 posts. */
export const NSFW_SHARE = 0.2;

/**
 * Derives a viewer's profile: 5-20 subscriptions drawn without replacement with probability proportional to each
 * community's subscriber count (so big communities are common subscriptions and small ones rare, as on the site),
 * an affinity per subscription, and an NSFW preference.
 */
export function deriveViewerProfile(userId: string, communities: readonly Community[]): ViewerProfile {
  const rand = seededRandom(`viewer:${userId}`);
  const count = Math.min(communities.length, MIN_SUBSCRIPTIONS + Math.floor(rand() * (MAX_SUBSCRIPTIONS - MIN_SUBSCRIPTIONS + 1)));
  // A community missing from the manifest still gets a small weight, so it can be subscribed to.
  const known = communities.map((c) => c.subscribers ?? 0).filter((s) => s > 0);
  const floor = known.length > 0 ? Math.min(...known) : 1;
  const pool = communities.map((c) => ({ name: c.name, weight: Math.max(c.subscribers ?? floor, 1) }));
  let total = pool.reduce((s, p) => s + p.weight, 0);
  const subscriptions: { community: string; affinity: number }[] = [];
  for (let k = 0; k < count && pool.length > 0; k++) {
    let r = rand() * total;
    let i = 0;
    while (i < pool.length - 1 && r >= pool[i]!.weight) r -= pool[i++]!.weight;
    const [picked] = pool.splice(i, 1);
    total -= picked!.weight;
    subscriptions.push({ community: picked!.name, affinity: Math.round((0.2 + 0.8 * rand()) * 1000) / 1000 });
  }
  subscriptions.sort((a, b) => b.affinity - a.affinity || (a.community < b.community ? -1 : 1));
  return {
    userId,
    subscriptions,
    affinity: new Map(subscriptions.map((s) => [s.community, s.affinity])),
    showNsfw: rand() < NSFW_SHARE,
  };
}
