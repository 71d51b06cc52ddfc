/**
 * The communities of a synthetic corpus, planned before any post: names, kinds, subscriber counts (Zipf–Mandelbrot
 * by size rank), how many posts each gets, and the parameters its posts are drawn with.
 */
import type { Community } from '../content';
import { clamp, gaussian, mulberry32, pick, streamSeed } from './synthetic-random';
import { type Kind, TOPIC_OFFSET, VOCABULARY } from './synthetic-text';

/** The options a corpus is made from, defaults applied and checked (see `normalizeOptions` in `synthetic.ts`). */
export interface NormalizedOptions {
  readonly posts: number;
  readonly communities: number;
  readonly seed: number;
}

const LARGEST_SUBSCRIBERS = 24_000_000;
const SMALLEST_SUBSCRIBERS = 25_000;
const MIN_POSTS_PER_COMMUNITY = 3;
/** A community of this size gets the base score scale; the scale grows slowly (^0.2) with subscribers. */
const REFERENCE_SUBSCRIBERS = 1_000_000;

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

export interface PlannedCommunity {
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

export function planCommunities(o: NormalizedOptions): PlannedCommunity[] {
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

export function toCommunity(c: PlannedCommunity): Community {
  return { name: c.name, title: c.name, subscribers: c.subscribers, postCount: c.postCount };
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
