/**
 * The text of synthetic posts: titles (Zipf-drawn words from a fixed vocabulary, plus a community's topic words),
 * their slugs, link domains by community kind, and link urls shaped like each domain's.
 */
import { pick } from './synthetic-random';

/** What a community mostly posts; decides its link domains and how often its posts are self posts. */
export type Kind = 'image' | 'video' | 'news' | 'wiki' | 'self' | 'mixed';

// ---------------------------------------------------------------------------------------------------------------
// Titles

/**
 * Title vocabulary, most frequent first. Words are drawn Zipf-like, so titles share many words (as real titles do)
 * and text features such as term overlap have something to find.
 */
export const VOCABULARY: readonly string[] = (
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
export const TOPIC_OFFSET = 120;

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

// Reused between calls: titles are built with join(), which yields flat strings; `+=` would leave rope strings, a
// heap object per concatenation on top of the characters, in each of a million kept titles.
const titleWords: string[] = [];
const slugWords: string[] = [];

export function makeTitle(rng: () => number, topicWords: readonly number[]): { title: string; slug: string } {
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

export function pickWeighted(rng: () => number, t: WeightedTable): string {
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

export const DOMAINS: Record<Kind, WeightedTable> = {
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
 * Concatenation that yields a flat string. `+` and template literals build ropes past 12 characters, and a kept
 * rope holds a heap object per concatenation on top of its text, in each of a million strings.
 */
export function flat(parts: string[]): string {
  return parts.join('');
}

export function makeUrl(rng: () => number, domain: string, slug: string, createdUtc: number, community: string): string {
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
