import type { Post } from '../content';
import { Dictionary, hashOf, TextColumns } from './text-columns';

/**
 * The embedded store's posts, kept in columns instead of one JS object per post.
 *
 * Why: V8's young-generation collections (frequent under load) take longer the more of the old generation's pages
 * hold small objects, touched or not. A corpus as objects (a post, its strings, a Map entry, a feature row) is about
 * ten small objects per post, so every scavenge, and with it a request's latency, grew with the corpus (the scaling
 * bench compares corpus sizes). Here a corpus is a few dozen objects whatever its size: numbers and offsets in typed
 * arrays (off the JS heap), text in a few large strings (each one object in V8's large-object space, which scavenges
 * skip), and the id index in an Int32Array, so the corpus adds next to nothing to a scavenge's work.
 *
 * A post is built when read (`get`, `post`), an instance of a class that also records where it was read from, so that
 * what is derived from a post can be kept beside it by row (see `postFeatureRow`), and not in an object per post.
 */
export class PostTable {
  /** Number of posts; rows are 0..size-1, in the order the posts were first added. */
  readonly size: number;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;

  /** Made by `PostTableBuilder.finish`. */
  constructor(private readonly c: PostColumns) {
    this.size = c.size;
    this.f64 = c.records;
    this.i32 = new Int32Array(c.records.buffer, c.records.byteOffset, c.records.length * 2);
  }

  /** The table a post was read from (by `get` or `post`), or undefined for any other post object. */
  static tableOf(post: Post): PostTable | undefined {
    return post instanceof TablePost ? TablePost.tableOf(post) : undefined;
  }

  /** The row of a post read from a table; only meaningful when `tableOf(post)` is that table. */
  static rowOf(post: Post): number {
    return post instanceof TablePost ? TablePost.rowOf(post) : -1;
  }

  /** The key number of an id (a post's row when below `size`), or -1 when the table has never seen it. */
  find(id: string): number {
    const { keyIndex, text } = this.c;
    const { f64, i32 } = this;
    const mask = keyIndex.length - 1;
    for (let i = hashOf(id) & mask; ; i = (i + 1) & mask) {
      const k = keyIndex[i]! - 1;
      if (k < 0) return -1;
      if (i32[k * I32_STRIDE + KEY_LENGTH] === id.length && text.startsWith(f64[k * STRIDE + KEY_AT]!, id)) return k;
    }
  }

  /** The post with this id, built now; null when no post has it. */
  get(id: string): Post | null {
    const k = this.find(id);
    return k >= 0 && k < this.size ? this.post(k, id) : null;
  }

  /** The id of key `k` (see `find`). */
  key(k: number): string {
    return this.c.text.read(this.f64[k * STRIDE + KEY_AT]!, this.i32[k * I32_STRIDE + KEY_LENGTH]!);
  }

  /**
   * The post at `row`, built now: equal, field by field, to the post added there. `id`, when the caller holds the
   * row's id already (`get`), is used as is instead of being read again. Its text fields (title, url, permalink) are
   * read from the table when first asked for (see `TablePost`).
   */
  post(row: number, id?: string): Post {
    const { text, communityNames, domainNames } = this.c;
    const { f64, i32 } = this;
    const n = row * STRIDE;
    const m = row * I32_STRIDE;
    const d = i32[m + DOMAIN]!;
    const flags = i32[m + FLAGS]!;
    return new TablePost(
      this,
      row,
      id ?? text.read(f64[n + KEY_AT]!, i32[m + KEY_LENGTH]!),
      communityNames[i32[m + COMMUNITY]!]!,
      f64[n + SCORE]!,
      f64[n + UPS]!,
      f64[n + DOWNS]!,
      f64[n + NUM_COMMENTS]!,
      f64[n + CREATED_UTC]!,
      d === NULL ? null : domainNames[d]!,
      (flags & OVER_18) !== 0,
      (flags & IS_SELF) !== 0,
    );
  }

  /** The title of the post at `row`. */
  title(row: number): string {
    const m = row * I32_STRIDE;
    return this.c.text.read(this.f64[row * STRIDE + KEY_AT]! + this.i32[m + KEY_LENGTH]!, this.i32[m + TITLE_LENGTH]!);
  }

  /** The permalink of the post at `row`, or null. */
  permalink(row: number): string | null {
    const length = this.i32[row * I32_STRIDE + PERMALINK_LENGTH]!;
    if (length === NULL) return null;
    // A url equal to the permalink is not stored twice: its length is SAME_AS_PERMALINK (negative), and it takes no room.
    return this.c.text.read(this.urlAt(row) + Math.max(0, this.i32[row * I32_STRIDE + URL_LENGTH]!), length);
  }

  /** The url of the post at `row`, or null. */
  url(row: number): string | null {
    const length = this.i32[row * I32_STRIDE + URL_LENGTH]!;
    if (length === NULL) return null;
    if (length === SAME_AS_PERMALINK) return this.permalink(row);
    return this.c.text.read(this.urlAt(row), length);
  }

  /** Where the url of the post at `row` starts in the text: after its id and its title. */
  private urlAt(row: number): number {
    const m = row * I32_STRIDE;
    return this.f64[row * STRIDE + KEY_AT]! + this.i32[m + KEY_LENGTH]! + this.i32[m + TITLE_LENGTH]!;
  }
}

/**
 * A post read from a `PostTable`. Its numbers, flags, id, community and domain are own enumerable properties, as a
 * post literal's; its text (title, url, permalink) is read from the table when a getter asks for it, and not before.
 * Why: a cold home request reads every candidate post (over a thousand) and uses the text of the 25 it serves. Three
 * strings per post built eagerly were three small objects per post read that lived until the request ended, and
 * every young-generation collection (each promoting what the requests in flight hold) copied them.
 * `toJSON` gives the whole post, so JSON (logs, exports) sees what a post literal would.
 */
class TablePost implements Post {
  readonly #table: PostTable;
  readonly #row: number;

  constructor(
    table: PostTable,
    row: number,
    readonly id: string,
    readonly community: string,
    readonly score: number,
    readonly ups: number,
    readonly downs: number,
    readonly numComments: number,
    readonly createdUtc: number,
    readonly domain: string | null,
    readonly over18: boolean,
    readonly isSelf: boolean,
  ) {
    this.#table = table;
    this.#row = row;
  }

  get title(): string {
    return this.#table.title(this.#row);
  }

  get url(): string | null {
    return this.#table.url(this.#row);
  }

  get permalink(): string | null {
    return this.#table.permalink(this.#row);
  }

  toJSON(): Post {
    return plainPost(this);
  }

  static tableOf(post: TablePost): PostTable {
    return post.#table;
  }

  static rowOf(post: TablePost): number {
    return post.#row;
  }
}

/** A post as a plain object literal, every field its own property (a table's post reads its text now). */
function plainPost(p: Post): Post {
  return {
    id: p.id,
    community: p.community,
    title: p.title,
    url: p.url,
    permalink: p.permalink,
    score: p.score,
    ups: p.ups,
    downs: p.downs,
    numComments: p.numComments,
    createdUtc: p.createdUtc,
    domain: p.domain,
    over18: p.over18,
    isSelf: p.isSelf,
  };
}

const NULL = -1;
const SAME_AS_PERMALINK = -2;
const OVER_18 = 1;
const IS_SELF = 2;

/*
 * One record per key, 80 bytes: a post's numbers and where its text is, side by side, so reading a post touches one
 * or two cache lines instead of one per column. A cold home request reads over a thousand posts at random rows; with
 * a column per field (seven typed arrays) each read touched a line in every column, each one likely a cache miss.
 * As float64 (index k * STRIDE + ...): text position of the id, then score, ups, downs, numComments, createdUtc.
 * As int32 over the same bytes (index k * I32_STRIDE + ...): lengths of id, title, url, permalink; flags; community
 * and domain numbers.
 */
const STRIDE = 10;
const I32_STRIDE = 2 * STRIDE;
const KEY_AT = 0;
const SCORE = 1;
const UPS = 2;
const DOWNS = 3;
const NUM_COMMENTS = 4;
const CREATED_UTC = 5;
const KEY_LENGTH = 12;
/** Lengths of title, url and permalink, stored right after the id in this order; NULL, or SAME_AS_PERMALINK for url. */
const TITLE_LENGTH = 13;
const URL_LENGTH = 14;
const PERMALINK_LENGTH = 15;
const FLAGS = 16;
const COMMUNITY = 17;
/** A number into `domainNames`, or NULL. */
const DOMAIN = 18;

/** The columns of a `PostTable` (see there). */
export interface PostColumns {
  readonly size: number;
  readonly text: TextColumns;
  /** Every key's record (the layout above): the posts' (key k is row k for k < size), then ids only indexes mention. */
  readonly records: Float64Array;
  /** Open addressing over the keys: key number + 1, 0 for an empty slot. */
  readonly keyIndex: Int32Array;
  readonly communityNames: readonly string[];
  readonly domainNames: readonly string[];
}

/**
 * Collects posts (`addPost`), then the ids indexes hold (`key`), and `finish` makes the table. A post added again
 * under an id already added replaces the earlier one in place, as `Map.set` would.
 */
export class PostTableBuilder {
  private readonly text = new TextColumns();
  /** Id -> key number while building; the finished table looks ids up in its own index instead. */
  private readonly keys = new Map<string, number>();
  private f64: Float64Array;
  private i32: Int32Array;
  private readonly communityNames = new Dictionary();
  private readonly domainNames = new Dictionary();
  private posts = 0;
  private finished = false;

  constructor(expectedPosts: number) {
    this.f64 = new Float64Array(Math.max(16, expectedPosts) * STRIDE);
    this.i32 = new Int32Array(this.f64.buffer);
  }

  addPost(p: Post): void {
    if (this.keys.size > this.posts) throw new Error('PostTableBuilder: add every post before the first index member');
    let row = this.keys.get(p.id);
    if (row === undefined) {
      row = this.posts++;
      this.keys.set(p.id, row);
      this.reserve(this.posts);
    }
    // A self post's url is its permalink: kept once.
    const url = p.url === null || p.url === p.permalink ? '' : p.url;
    const permalink = p.permalink ?? '';
    const n = row * STRIDE;
    const m = row * I32_STRIDE;
    const { f64, i32 } = this;
    f64[n + KEY_AT] = this.text.append(p.id, p.title, url, permalink);
    f64[n + SCORE] = p.score;
    f64[n + UPS] = p.ups;
    f64[n + DOWNS] = p.downs;
    f64[n + NUM_COMMENTS] = p.numComments;
    f64[n + CREATED_UTC] = p.createdUtc;
    i32[m + KEY_LENGTH] = p.id.length;
    i32[m + TITLE_LENGTH] = p.title.length;
    i32[m + URL_LENGTH] = p.url === null ? NULL : p.url === p.permalink ? SAME_AS_PERMALINK : url.length;
    i32[m + PERMALINK_LENGTH] = p.permalink === null ? NULL : permalink.length;
    i32[m + FLAGS] = (p.over18 ? OVER_18 : 0) | (p.isSelf ? IS_SELF : 0);
    i32[m + COMMUNITY] = this.communityNames.code(p.community);
    i32[m + DOMAIN] = p.domain === null ? NULL : this.domainNames.code(p.domain);
  }

  /** The key number of `id` (an index member): its post's row, or a new key when no post has that id. */
  key(id: string): number {
    let k = this.keys.get(id);
    if (k === undefined) {
      k = this.keys.size;
      this.keys.set(id, k);
      this.reserve(k + 1);
      this.f64[k * STRIDE + KEY_AT] = this.text.append(id, '', '', '');
      this.i32[k * I32_STRIDE + KEY_LENGTH] = id.length;
    }
    return k;
  }

  finish(): PostTable {
    if (this.finished) throw new Error('PostTableBuilder: finished already');
    this.finished = true;
    this.text.seal();
    const keys = this.keys.size;
    // Load factor at most 1/2: a miss ends within a probe or two.
    const index = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(16, keys * 2))));
    const mask = index.length - 1;
    for (const [id, k] of this.keys) {
      let i = hashOf(id) & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = k + 1;
    }
    return new PostTable({
      size: this.posts,
      text: this.text,
      records: this.f64.slice(0, keys * STRIDE),
      keyIndex: index,
      communityNames: this.communityNames.names,
      domainNames: this.domainNames.names,
    });
  }

  /** Grows the records (doubling) to hold at least `keys` keys. */
  private reserve(keys: number): void {
    if (keys * STRIDE <= this.f64.length) return;
    const grown = new Float64Array(Math.max(keys, (this.f64.length / STRIDE) * 2) * STRIDE);
    grown.set(this.f64);
    this.f64 = grown;
    this.i32 = new Int32Array(grown.buffer);
  }
}
