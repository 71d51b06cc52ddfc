import { Packr } from 'msgpackr';
import type { Store } from '../store/store';
import { withSpan } from '../telemetry/tracing';
import { codeColumn, floatBytes, floatsOf, joinColumn, splitColumn, valuesOfCodes } from './columns';

/** A source that failed or missed its deadline while the list was built: the answer says so. */
export interface Degradation {
  readonly source: string;
  readonly reason: string;
}

/** What each stage of the build saw, for the MLE's funnel. */
export interface BuildFunnel {
  readonly retrieved: Readonly<Record<string, number>>;
  readonly unique: number;
  readonly filtered: Readonly<Record<string, number>>;
  readonly scored: number;
}

/**
 * The ranker's output for one request key, cached instead of a final page: filters that depend on the moment (what
 * the viewer has seen, their blocked communities) and diversity are applied per request on top of it.
 */
export interface ScoredList {
  readonly createdAt: number;
  /** The ranker that actually scored (the fallback, when the requested variant failed). */
  readonly servedBy: string;
  readonly servedByVersion: string;
  readonly fallbackFrom: string | null;
  readonly fallbackReason: string | null;
  /** In rank order (scores non-increasing, or interleaving order). */
  readonly ids: readonly string[];
  readonly scores: readonly number[];
  /** For an interleaved list: the ranker that contributed each item. */
  readonly teams: readonly string[] | null;
  /** Each item's community and domain, for per-request filters and diversity without re-reading the posts. */
  readonly communities: readonly string[];
  readonly domains: readonly (string | null)[];
  readonly degraded: readonly Degradation[];
  readonly funnel: BuildFunnel;
  /**
   * For "interleave:A,B": `ids` are in A's order and `orderB` lists their indices in B's order. The interleaving
   * itself happens per request, after the per-request filters, so both teams draft from the same remaining items.
   */
  readonly interleave: { readonly a: string; readonly b: string; readonly orderB: readonly number[] } | null;
}

const packr = new Packr({ useRecords: false });
/** Bump when the encoding changes: entries of another format read as misses. */
const FORMAT = 3;

/**
 * The stored form: the ids (about a thousand items for a home feed) as one joined string, the communities and
 * domains as a dictionary and a code per item, the scores as float64 bytes, instead of four msgpack arrays with an
 * element per item: a few values to encode and decode on the cold path instead of one per item and column (see
 * src/cache/columns.ts), and as exact (the bytes are the float64 values).
 */
type Encoded = [
  format: number,
  rest: Omit<ScoredList, 'ids' | 'scores' | 'communities' | 'domains'>,
  ids: string,
  scores: Uint8Array,
  communityNames: string[],
  communityCodes: Uint8Array,
  domainNames: string[],
  domainCodes: Uint8Array,
  count: number,
];

function encode(list: ScoredList): Encoded | null {
  const { ids, scores, communities, domains, ...rest } = list;
  const idColumn = joinColumn(ids);
  if (idColumn === null) return null;
  return [FORMAT, rest, idColumn, floatBytes(scores), ...codeColumn(communities), ...codeColumn(domains), ids.length];
}

function decode(e: Encoded): ScoredList | null {
  const [, rest, ids, scoreBytes, communityNames, communityCodes, domainNames, domainCodes, count] = e;
  if (typeof ids !== 'string' || !(scoreBytes instanceof Uint8Array) || !Number.isSafeInteger(count)) return null;
  const scores = floatsOf(scoreBytes);
  const communities = valuesOfCodes(communityNames, communityCodes, count);
  const domains = valuesOfCodes(domainNames, domainCodes, count);
  if (communities === null || domains === null || communities.includes(null)) return null;
  const list: ScoredList = { ...rest, ids: splitColumn(ids, count), scores, communities: communities as string[], domains };
  return list.ids.length === count && scores.length === count ? list : null;
}

/** Scored lists in the store (Redis or embedded), msgpack-encoded, under `scores:` keys beside the page snapshots. */
export class ScoreCache {
  constructor(private readonly store: Store) {}

  get(key: string): Promise<ScoredList | null> {
    return withSpan('cache.scores.get', { 'cache.backend': this.store.kind }, async (span) => {
      const bytes = await this.store.getSnapshot(`scores:${key}`);
      span.setAttribute('cache.hit', bytes !== null);
      if (!bytes) return null;
      const decoded = packr.unpack(bytes) as unknown;
      if (!Array.isArray(decoded)) return null;
      if (decoded[0] === FORMAT) return decode(decoded as Encoded);
      return decoded[0] === PLAIN_FORMAT ? (decoded[1] as ScoredList) : null;
    });
  }

  put(key: string, list: ScoredList, ttlSeconds: number): Promise<void> {
    return withSpan('cache.scores.put', { 'cache.backend': this.store.kind, 'scores.items': list.ids.length }, async () => {
      const encoded = encode(list);
      await this.store.putSnapshot(`scores:${key}`, packr.pack(encoded ?? [PLAIN_FORMAT, list]), ttlSeconds);
    });
  }
}

/** The list as it is, for the (never expected) list whose strings cannot be joined. */
const PLAIN_FORMAT = 1;
