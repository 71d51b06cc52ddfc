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

/** Part of the fingerprint: bump whenever the output for given options changes, so old snapshots are not reused. */
export const SYNTHETIC_GENERATOR_VERSION = 1;

export interface SyntheticOptions {
  posts?: number;
  communities?: number;
  seed?: number;
}

interface NormalizedOptions {
  readonly posts: number;
  readonly communities: number;
  readonly seed: number;
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

const LARGEST_SUBSCRIBERS = 24_000_000;
const SMALLEST_SUBSCRIBERS = 25_000;
const MIN_POSTS_PER_COMMUNITY = 3;
/** A community of this size gets the base score scale; the scale grows slowly (^0.2) with subscribers. */
const REFERENCE_SUBSCRIBERS = 1_000_000;

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
// PRNG

/** mulberry32: tiny, fast, and good enough for test data; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Independent streams per purpose, so that e.g. changing how titles are drawn does not reshuffle communities. */
function streamSeed(seed: number, stream: string): number {
  const digest = createHash('sha256').update(`${seed}/${stream}`).digest();
  return digest.readUInt32LE(0);
}

function gaussian(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

// ---------------------------------------------------------------------------------------------------------------
// Communities

type Kind = 'image' | 'video' | 'news' | 'wiki' | 'self' | 'mixed';

/** Subreddit-like names by size rank (largest first); `pics` and `funny` lead because the API's examples use them. */
const BASE_COMMUNITIES: readonly (readonly [name: string, kind: Kind, nsfw?: true])[] = [
  ['funny', 'image'], ['pics', 'image'], ['AskReddit', 'self'], ['todayilearned', 'wiki'], ['worldnews', 'news'],
  ['science', 'news'], ['IAmA', 'self'], ['videos', 'video'], ['gaming', 'image'], ['movies', 'mixed'],
  ['Music', 'video'], ['aww', 'image'], ['news', 'news'], ['gifs', 'image'], ['explainlikeimfive', 'self'],
  ['askscience', 'self'], ['EarthPorn', 'image'], ['books', 'mixed'], ['television', 'mixed'], ['LifeProTips', 'self'],
  ['mildlyinteresting', 'image'], ['DIY', 'image'], ['sports', 'video'], ['Showerthoughts', 'self'], ['space', 'news'],
  ['Jokes', 'self'], ['tifu', 'self'], ['food', 'image'], ['photoshopbattles', 'image'], ['Art', 'image'],
  ['InternetIsBeautiful', 'mixed'], ['GetMotivated', 'image'], ['history', 'wiki'], ['nottheonion', 'news'],
  ['gadgets', 'news'], ['dataisbeautiful', 'image'], ['Futurology', 'news'], ['Documentaries', 'video'],
  ['listentothis', 'video'], ['personalfinance', 'self'], ['philosophy', 'wiki'], ['nosleep', 'self'],
  ['creepy', 'image'], ['OldSchoolCool', 'image'], ['UpliftingNews', 'news'], ['WritingPrompts', 'self'],
  ['technology', 'news'], ['AdviceAnimals', 'image'], ['WTF', 'image'], ['politics', 'news'], ['atheism', 'image'],
  ['nsfw', 'image', true], ['interestingasfuck', 'image'], ['woahdude', 'image'], ['Fitness', 'self'],
  ['programming', 'news'], ['Android', 'news'], ['bestof', 'mixed'], ['cringe', 'video'], ['gameofthrones', 'mixed'],
  ['trees', 'image'], ['Frugal', 'self'], ['cats', 'image'], ['HistoryPorn', 'image'], ['wallpapers', 'image'],
  ['AskHistorians', 'self'], ['Cooking', 'image'], ['travel', 'image'], ['Games', 'news'], ['comics', 'image'],
  ['gonewild', 'image', true], ['geek', 'mixed'], ['Economics', 'news'], ['YouShouldKnow', 'self'],
  ['lifehacks', 'image'], ['malefashionadvice', 'self'], ['TwoXChromosomes', 'self'], ['soccer', 'video'],
  ['nba', 'video'], ['nfl', 'video'], ['starcraft', 'video'], ['Minecraft', 'image'], ['skyrim', 'image'],
  ['breakingbad', 'mixed'], ['doctorwho', 'image'], ['scifi', 'mixed'], ['photography', 'image'],
  ['spaceporn', 'image'], ['conspiracy', 'news'], ['4chan', 'image'], ['facepalm', 'image'],
  ['NSFW_GIF', 'image', true], ['FoodPorn', 'image'], ['AbandonedPorn', 'image'], ['JusticePorn', 'video'],
  ['offbeat', 'news'], ['entertainment', 'news'], ['business', 'news'], ['DepthHub', 'self'], ['cringepics', 'image'],
];

/** Parts for names beyond the built-in list, e.g. "RetroMaps" or "cozy_gardening". */
const NAME_PREFIXES = [
  'Ask', 'True', 'Old', 'Super', 'Daily', 'Retro', 'Hidden', 'Urban', 'Tiny', 'Wild', 'Mildly', 'Cozy', 'Indie',
  'Pixel', 'Vintage', 'Budget', 'Night', 'Weird', 'Random', 'Casual', 'Home', 'Modern', 'Classic', 'Amateur',
];
const NAME_SUFFIXES = [
  'Cooking', 'Gaming', 'Photos', 'Science', 'Bikes', 'Maps', 'Music', 'Space', 'Gardening', 'Coffee', 'Cats', 'Dogs',
  'Books', 'Fitness', 'Travel', 'Movies', 'Art', 'History', 'Tech', 'Design', 'Running', 'Jokes', 'News', 'Cars',
  'Boats', 'Birds', 'Hiking', 'Camping', 'Puzzles', 'Chess', 'Trains', 'Comics',
];
const GENERATED_KINDS: readonly Kind[] = ['image', 'image', 'image', 'mixed', 'mixed', 'self', 'news', 'video', 'wiki'];

const SELF_RATE: Record<Kind, number> = { image: 0.03, video: 0.03, news: 0.02, wiki: 0.05, mixed: 0.15, self: 0.92 };

interface PlannedCommunity {
  readonly name: string;
  readonly subscribers: number;
  readonly postCount: number;
  readonly kind: Kind;
  readonly nsfw: boolean;
  readonly selfRate: number;
  /** Pareto scale of post scores: bigger communities give their top posts more votes. */
  readonly scoreScale: number;
  /** A few vocabulary indices favoured in this community's titles. */
  readonly topicWords: readonly number[];
}

function planCommunities(o: NormalizedOptions): PlannedCommunity[] {
  const rng = mulberry32(streamSeed(o.seed, 'communities'));
  const n = o.communities;

  const names: string[] = [];
  const kinds: Kind[] = [];
  const nsfw: boolean[] = [];
  const taken = new Set<string>();
  for (let r = 0; r < n; r++) {
    const base = BASE_COMMUNITIES[r];
    if (base) {
      names.push(base[0]);
      kinds.push(base[1]);
      nsfw.push(base[2] === true);
    } else {
      names.push(generatedName(rng, taken));
      kinds.push(pick(rng, GENERATED_KINDS));
      nsfw.push(rng() < 0.03);
    }
    taken.add((names[r] as string).toLowerCase());
  }

  // Zipf–Mandelbrot: the offset flattens the very top (the largest subreddits are close in size), and the
  // exponent is fitted so the list runs from tens of millions down to tens of thousands whatever its length.
  const offset = 1.5;
  const alpha =
    n > 1 ? clamp(Math.log(LARGEST_SUBSCRIBERS / SMALLEST_SUBSCRIBERS) / Math.log((n + offset) / (1 + offset)), 0.8, 2.5) : 1;
  const subscribers = Array.from({ length: n }, (_, r) =>
    Math.round(LARGEST_SUBSCRIBERS * ((1 + offset) / (r + 1 + offset)) ** alpha * (0.85 + 0.3 * rng())),
  ).sort((a, b) => b - a);

  // Post counts follow size loosely (noise, so two neighbours in rank can differ a lot), with a small floor.
  const weights = Array.from({ length: n }, (_, r) => (r + 1) ** -0.85 * Math.exp(0.35 * gaussian(rng)));
  const postCounts = allocate(o.posts, weights, MIN_POSTS_PER_COMMUNITY);

  return names.map((name, r) => {
    const kind = kinds[r] as Kind;
    const subs = subscribers[r] as number;
    const topicWords = Array.from({ length: 4 }, () => TOPIC_OFFSET + Math.floor(rng() * (VOCABULARY.length - TOPIC_OFFSET)));
    return {
      name,
      subscribers: subs,
      postCount: postCounts[r] as number,
      kind,
      nsfw: nsfw[r] as boolean,
      selfRate: SELF_RATE[kind],
      scoreScale: clamp(350 * (subs / REFERENCE_SUBSCRIBERS) ** 0.2, 60, 1500),
      topicWords,
    };
  });
}

function generatedName(rng: () => number, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const prefix = pick(rng, NAME_PREFIXES);
    const suffix = pick(rng, NAME_SUFFIXES);
    const style = rng();
    let name =
      style < 0.5 ? prefix + suffix : style < 0.8 ? (prefix + suffix).toLowerCase() : `${prefix}_${suffix}`.toLowerCase();
    // Past a few collisions the combinations are running out: a number keeps names unique (and under 21 chars).
    if (attempt >= 3) name = `${name.slice(0, 14)}${Math.floor(rng() * 1_000_000)}`;
    if (!taken.has(name.toLowerCase())) return name;
  }
}

/** Splits `total` in proportion to `weights` (largest remainder), after giving each share up to `floor`. */
function allocate(total: number, weights: readonly number[], floor: number): number[] {
  const n = weights.length;
  const base = Math.min(floor, Math.floor(total / n));
  const counts = new Array<number>(n).fill(base);
  let rest = total - base * n;
  const sumW = weights.reduce((a, b) => a + b, 0);
  const fractions: [number, number][] = [];
  let assigned = 0;
  for (let i = 0; i < n; i++) {
    const exact = (rest * (weights[i] as number)) / sumW;
    const whole = Math.floor(exact);
    counts[i] = (counts[i] as number) + whole;
    assigned += whole;
    fractions.push([exact - whole, i]);
  }
  rest -= assigned;
  fractions.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; k < rest; k++) {
    const i = (fractions[k % n] as [number, number])[1];
    counts[i] = (counts[i] as number) + 1;
  }
  return counts;
}

function toCommunity(c: PlannedCommunity): Community {
  return { name: c.name, title: c.name, subscribers: c.subscribers, postCount: c.postCount };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
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

// ---------------------------------------------------------------------------------------------------------------
// Titles

/**
 * Title vocabulary, most frequent first. Words are drawn Zipf-like, so titles share many words (as real titles do)
 * and text features such as term overlap have something to find.
 */
const VOCABULARY: readonly string[] = (
  'the my a this of to and I is in for on what was with it that you just me when his her how after first ' +
  "your have at an from one all new i'm found today made got so like day our be years are time can't why " +
  "friend dad mom guy old never don't best little people year only ever can out up picture photo who every " +
  'look life world finally thought see here found two saw last got way back what\'s some man girl about ' +
  'no good make know story someone always really thing things again think found them three world\'s ' +
  'cat dog wife husband brother sister son daughter baby grandpa grandma kid kids boss teacher neighbor ' +
  'city house car street beach mountain lake river forest park school office store restaurant kitchen ' +
  'morning night weekend summer winter birthday christmas halloween wedding vacation 10 100 2 3 5 20 ' +
  'amazing beautiful huge tiny strange awesome terrible perfect favorite weird funny sad happy proud ' +
  'game movie book song album video photo painting drawing map sign note letter cake pizza beer coffee ' +
  'reddit internet computer phone camera robot rocket planet moon sun star ocean earth space science ' +
  'history war president government police court law money job work company market water fire snow ' +
  'built drew painted cooked wrote caught fixed learned decided tried asked told gave took left ' +
  'finished started won lost broke saved walked ran flew bought sold turned opened ' +
  'apparently actually literally accidentally secretly nobody everyone anyone somebody ' +
  'TIL PSA AMA update ask question answer problem solution advice idea theory'
)
  .split(' ')
  .filter((w, i, all) => w !== '' && all.indexOf(w) === i);

/** Topic words are drawn from the less common part of the vocabulary, where they stand out. */
const TOPIC_OFFSET = 120;

const CAPITALIZED: readonly string[] = VOCABULARY.map((w) => w.charAt(0).toUpperCase() + w.slice(1));

/** Slug form of each word (Reddit keeps only [a-z0-9] and joins words with underscores). */
const SLUG_WORDS: readonly string[] = VOCABULARY.map((w) => w.toLowerCase().replace(/[^a-z0-9]/g, ''));

const WORD_CUMULATIVE: Float64Array = (() => {
  const acc = new Float64Array(VOCABULARY.length);
  let total = 0;
  for (let i = 0; i < VOCABULARY.length; i++) {
    total += 1 / (i + 2) ** 0.9;
    acc[i] = total;
  }
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) / total;
  return acc;
})();

const SLUG_MAX = 50;

function zipfWord(rng: () => number): number {
  const u = rng();
  let lo = 0;
  let hi = WORD_CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((WORD_CUMULATIVE[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Reused between calls: titles are built with join(), which yields flat strings; `+=` would leave rope strings
// that take several times the memory once a million titles are kept.
const titleWords: string[] = [];
const slugWords: string[] = [];

function makeTitle(rng: () => number, topicWords: readonly number[]): { title: string; slug: string } {
  const count = 5 + Math.floor(11 * rng() ** 1.4);
  titleWords.length = 0;
  slugWords.length = 0;
  let slugLength = -1;
  let slugFull = false;
  for (let k = 0; k < count; k++) {
    const w = rng() < 0.18 ? pick(rng, topicWords) : zipfWord(rng);
    titleWords.push(k === 0 ? (CAPITALIZED[w] as string) : (VOCABULARY[w] as string));
    // Reddit cuts the slug at a word boundary at 50 characters.
    const part = SLUG_WORDS[w] as string;
    if (!slugFull && part !== '') {
      if (slugLength + 1 + part.length <= SLUG_MAX) {
        slugWords.push(part);
        slugLength += 1 + part.length;
      } else {
        slugFull = true;
      }
    }
  }
  const p = rng();
  const end = p < 0.2 ? '.' : p < 0.32 ? '?' : p < 0.4 ? '!' : '';
  if (end !== '') titleWords[count - 1] += end;
  return { title: titleWords.join(' '), slug: slugWords.length === 0 ? 'post' : slugWords.join('_') };
}

// ---------------------------------------------------------------------------------------------------------------
// Domains and urls

type WeightedTable = { readonly items: readonly string[]; readonly cumulative: readonly number[] };

function table(entries: Record<string, number>): WeightedTable {
  const items = Object.keys(entries);
  let total = 0;
  const cumulative = items.map((k) => (total += entries[k] as number));
  return { items, cumulative: cumulative.map((c) => c / total) };
}

function pickWeighted(rng: () => number, t: WeightedTable): string {
  const u = rng();
  const { cumulative, items } = t;
  for (let i = 0; i < cumulative.length; i++) if (u < (cumulative[i] as number)) return items[i] as string;
  return items[items.length - 1] as string;
}

const NEWS_DOMAINS = {
  'nytimes.com': 8, 'guardian.co.uk': 7, 'bbc.co.uk': 7, 'washingtonpost.com': 5, 'huffingtonpost.com': 5,
  'theatlantic.com': 3, 'telegraph.co.uk': 3, 'reuters.com': 4, 'npr.org': 3, 'cnn.com': 3, 'theverge.com': 4,
  'arstechnica.com': 3, 'theonion.com': 2, 'twitter.com': 3, 'en.wikipedia.org': 2, 'i.imgur.com': 3,
};

const DOMAINS: Record<Kind, WeightedTable> = {
  image: table({
    'i.imgur.com': 55, 'imgur.com': 30, 'flickr.com': 3, 'i.minus.com': 3, '25.media.tumblr.com': 2,
    'upload.wikimedia.org': 2, 'qkme.me': 2, 'quickmeme.com': 2, 'reddit.com': 1,
  }),
  video: table({ 'youtube.com': 70, 'youtu.be': 8, 'vimeo.com': 8, 'liveleak.com': 4, 'i.imgur.com': 6, 'imgur.com': 4 }),
  news: table(NEWS_DOMAINS),
  wiki: table({ 'en.wikipedia.org': 55, 'i.imgur.com': 15, 'imgur.com': 8, 'youtube.com': 5, ...scaled(NEWS_DOMAINS, 0.4) }),
  mixed: table({
    'i.imgur.com': 30, 'imgur.com': 20, 'youtube.com': 12, 'reddit.com': 5, 'en.wikipedia.org': 4, 'twitter.com': 3,
    ...scaled(NEWS_DOMAINS, 0.3),
  }),
  self: table({ 'i.imgur.com': 30, 'imgur.com': 25, 'reddit.com': 15, 'youtube.com': 10, 'en.wikipedia.org': 5 }),
};

function scaled(entries: Record<string, number>, factor: number): Record<string, number> {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, v * factor]));
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

const DIGITS = '0123456789';
const charCodes: number[] = [];

function randomString(rng: () => number, length: number, alphabet: string = ALNUM): string {
  charCodes.length = 0;
  for (let i = 0; i < length; i++) charCodes.push(alphabet.charCodeAt(Math.floor(rng() * alphabet.length)));
  return String.fromCharCode.apply(null, charCodes);
}

/**
 * Concatenation that yields a flat string. `+` and template literals build ropes past 12 characters, and a
 * million kept ropes cost several times the memory of the text they hold.
 */
function flat(parts: string[]): string {
  return parts.join('');
}

function makeUrl(rng: () => number, domain: string, slug: string, createdUtc: number, community: string): string {
  switch (domain) {
    case 'i.imgur.com':
      return flat(['http://i.imgur.com/', randomString(rng, 5), rng() < 0.8 ? '.jpg' : rng() < 0.5 ? '.png' : '.gif']);
    case 'imgur.com':
      return flat([rng() < 0.3 ? 'http://imgur.com/a/' : 'http://imgur.com/', randomString(rng, 5)]);
    case 'youtube.com':
      return flat(['http://www.youtube.com/watch?v=', randomString(rng, 11)]);
    case 'youtu.be':
      return flat(['http://youtu.be/', randomString(rng, 11)]);
    case 'en.wikipedia.org':
      return flat(['http://en.wikipedia.org/wiki/', wikiTitle(slug)]);
    case 'reddit.com':
      return flat(['http://www.reddit.com/r/', community, '/comments/', randomString(rng, 5, BASE36), '/', slug, '/']);
    case 'twitter.com':
      return flat(['https://twitter.com/', slug.split('_')[0] ?? 'user', '/status/', randomString(rng, 18, DIGITS)]);
    case 'i.minus.com':
    case '25.media.tumblr.com':
    case 'upload.wikimedia.org':
      return flat(['http://', domain, '/', randomString(rng, 12), '.jpg']);
    default: {
      const d = new Date(createdUtc * 1000);
      const month = String(d.getUTCMonth() + 1).padStart(2, '0');
      return flat(['http://www.', domain, '/', String(d.getUTCFullYear()), '/', month, '/', slug.replace(/_/g, '-')]);
    }
  }
}

function wikiTitle(slug: string): string {
  const words = slug.split('_').slice(0, 3);
  return words.map((w, i) => (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w)).join('_');
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
