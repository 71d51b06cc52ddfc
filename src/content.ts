/**
 * The content the gateway ranks: posts and the communities they belong to.
 *
 * These are plain records, shared by the dataset loaders (which make them), the store (which keeps them) and the
 * feature hydrators (which read them). They carry no behaviour.
 */

/** One post, as kept in the store. Field names follow the GraphQL `Post` type where they overlap. */
export interface Post {
  /** Reddit's base-36 id, e.g. "92dd8". Unique in a corpus. */
  readonly id: string;
  /** Community name without the "r/" prefix, e.g. "pics". */
  readonly community: string;
  readonly title: string;
  readonly url: string | null;
  readonly permalink: string | null;
  /** Net score (ups minus downs) as published. */
  readonly score: number;
  readonly ups: number;
  readonly downs: number;
  readonly numComments: number;
  /** Creation time, seconds since the Unix epoch (UTC). */
  readonly createdUtc: number;
  readonly domain: string | null;
  readonly over18: boolean;
  readonly isSelf: boolean;
}

export interface Community {
  /** Name without the "r/" prefix, e.g. "pics". Case as published. */
  readonly name: string;
  /** Short title from the manifest ("Ask Reddit..."), when known. */
  readonly title: string | null;
  /** Subscriber count from the manifest, when known. */
  readonly subscribers: number | null;
  /** Number of posts of this community in the corpus. */
  readonly postCount: number;
}

/** Where a corpus came from, reported at start-up and by `npm run seed`. */
export interface DatasetInfo {
  /** "reddit-csv" for a folder in the Reddit Top 2.5 Million layout, "synthetic" for the generated default. */
  readonly source: 'reddit-csv' | 'synthetic';
  /** A human-readable description: the folder, or the generator's seed and size. */
  readonly description: string;
  readonly posts: number;
  readonly communities: number;
  /** Changes whenever the content changes; part of every snapshot key, so a reseed never serves stale pages. */
  readonly fingerprint: string;
}

/** A whole corpus held in memory: what a loader returns and what the store is seeded from. */
export interface Corpus {
  readonly info: DatasetInfo;
  readonly posts: readonly Post[];
  readonly communities: readonly Community[];
}
