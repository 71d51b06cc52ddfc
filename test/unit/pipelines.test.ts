/**
 * Feed pipelines are checked at start-up (src/pipeline/validate.ts): the shipped ones against the shipped ranker
 * configuration pass; every kind of name that does not exist, and every stage out of order, is refused with a
 * message naming the feed and the name.
 */
import path from 'node:path';
import { FEED_PIPELINES, type FeedPipeline, type FeedPipelines } from '../../src/pipeline/feeds';
import { PipelineConfigError, validatePipelines } from '../../src/pipeline/validate';
import { loadRankerFile, type RankerRegistry } from '../../src/rankers/registry';
import { FAILED_DEFAULTS, tempRankersFile } from '../helpers/rankers-file';

const ROOT = path.resolve(__dirname, '../..');
let rankers: RankerRegistry;

beforeAll(async () => {
  rankers = await loadRankerFile(path.join(ROOT, 'models/rankers.json'));
});

afterAll(() => rankers.close());

/** The shipped pipelines with the home feed changed by `change`. */
const withHome = (change: Partial<FeedPipeline>): FeedPipelines => ({ ...FEED_PIPELINES, home: { ...FEED_PIPELINES.home, ...change } });

function refusal(pipelines: FeedPipelines): string {
  try {
    validatePipelines(pipelines, rankers);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineConfigError);
    return (err as Error).message;
  }
  throw new Error('the pipelines were accepted');
}

test('the shipped pipelines pass against the shipped rankers', () => {
  expect(() => validatePipelines(FEED_PIPELINES, rankers)).not.toThrow();
});

test.each([
  ['candidate source', withHome({ sources: [{ source: 'subscriptons', limit: 10, timeoutMs: 100 }] }), /feed "home": unknown candidate source "subscriptons" \(known: subscriptions, popular/],
  ['hydrator', withHome({ hydration: ['posts', 'comunities'] }), /feed "home": unknown hydrator "comunities" \(known: posts, communities\)/],
  ['filter', withHome({ filters: ['duplicates', 'nfsw'] }), /feed "home": unknown filter "nfsw" \(known: duplicates, nsfw, seen, blocked\)/],
  ['default ranker', withHome({ scorer: { defaultRanker: 'lambamart', signedOutRanker: 'hot' } }), /feed "home": scorer\.defaultRanker "lambamart" is not a ranker of the configuration/],
  ['signed-out ranker', withHome({ scorer: { defaultRanker: 'lambdamart', signedOutRanker: 'hott' } }), /scorer\.signedOutRanker "hott"/],
  ['selector', withHome({ selectors: [{ name: 'diversify' }] }), /feed "home": unknown selector "diversify" \(known: diversity, interleave\)/],
  ['side effect', withHome({ sideEffects: ['feature-logs'] }), /feed "home": unknown side effect "feature-logs" \(known: shadow-scoring, feature-log, seen-recording\)/],
])('a misspelt %s stops start-up, naming it', (_what, pipelines, message) => {
  expect(refusal(pipelines)).toMatch(message);
});

test('stages out of order, bad options and a misregistered feed are refused, all of them at once', () => {
  const message = refusal({
    ...withHome({
      hydration: ['communities', 'posts'],
      filters: ['seen', 'nsfw'],
      selectors: [{ name: 'diversity', options: { window: 0, maxPerCommunity: 3, maxPerDomain: 4 } }, { name: 'interleave', options: { x: 1 } }],
    }),
    trending: { ...FEED_PIPELINES.community, name: 'popular' },
  });
  expect(message).toMatch(/feed "home": hydration must start with a hydrator of ids \(e\.g\. "posts"\), not "communities"/);
  expect(message).toMatch(/feed "home": hydrator "posts" turns ids into candidates: it can only come first/);
  expect(message).toMatch(/feed "home": candidate filter "nsfw" comes after session filter "seen"/);
  expect(message).toMatch(/feed "home": selector "diversity": diversity rule: window must be an integer >= 1, got 0/);
  expect(message).toMatch(/feed "home": selector "interleave": takes no options/);
  expect(message).toMatch(/feed "trending": its name is "popular"/);
});

test('a ranker that is configured but failed to load is not a typo: start-up goes on (readiness reports it)', async () => {
  const rankers = tempRankersFile({
    rankers: [FAILED_DEFAULTS.hot, FAILED_DEFAULTS.lambdamart, { id: 'personalized', kind: 'hot', version: '1', description: 'stand-in' }],
  });
  const broken = await loadRankerFile(rankers.file);
  try {
    expect(broken.variant('lambdamart')?.status).toBe('FAILED');
    expect(() => validatePipelines(FEED_PIPELINES, broken)).not.toThrow();
  } finally {
    await broken.close();
    rankers.remove();
  }
});
