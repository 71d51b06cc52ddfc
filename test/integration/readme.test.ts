/**
 * The README's examples run as written on a default start: each fenced block after an `<!-- example: ... -->` marker
 * is taken from the README and run against the built gateway started with no configuration (`npm start` runs
 * dist/src/main.js); only the port differs (the README's 4000 is replaced by the test's free port). Shell examples run
 * in bash from the repository (their `npm run cli` included); GraphQL examples are sent signed out or with a token of
 * the role their marker names. The real-data example runs when the real data is there, and says so when it is not.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TokenService } from '../../src/auth/tokens';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';
import { realDatasetDir } from '../helpers/dataset';
import { ROOT, startMain, type Running } from '../helpers/main-process';

interface Example {
  readonly tags: readonly string[];
  readonly lang: string;
  readonly text: string;
}

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function examplesOf(markdown: string): Example[] {
  const re = /<!-- example: ([^>]*?) -->\s*\n```(\w+)\n([\s\S]*?)^```/gm;
  return [...markdown.matchAll(re)].map((m) => ({ tags: m[1]!.split(',').map((t) => t.trim()), lang: m[2]!, text: m[3]! }));
}

const EXAMPLES = examplesOf(README);
const tokens = new TokenService(DEVELOPMENT_JWT_SECRET);

/** A GraphQL answer with no errors, whose every root field has something in it. */
function expectAnswered(body: { data?: Record<string, unknown> | null; errors?: unknown[] }, what: string): void {
  expect({ what, errors: body.errors ?? [] }).toEqual({ what, errors: [] });
  expect(Object.keys(body.data ?? {}).length).toBeGreaterThan(0);
  for (const [field, value] of Object.entries(body.data!)) {
    expect({ field, value: value === null || (Array.isArray(value) && value.length === 0) ? 'empty' : 'answered' }).toEqual({ field, value: 'answered' });
  }
  // Every feed in the answer has edges.
  for (const value of Object.values(body.data!)) {
    if (value && typeof value === 'object' && 'edges' in value) expect((value as { edges: unknown[] }).edges.length).toBeGreaterThan(0);
  }
}

async function runGraphQL(gw: Running, example: Example): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (example.tags.includes('mle')) headers.authorization = `Bearer ${await tokens.sign('readme-mle', { roles: ['mle'] })}`;
  else if (example.tags.includes('viewer')) headers.authorization = `Bearer ${await tokens.sign('readme-viewer')}`;
  const res = await fetch(gw.url, { method: 'POST', headers, body: JSON.stringify({ query: example.text }) });
  expect(res.status).toBe(200);
  expectAnswered((await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] }, example.text.slice(0, 60));
}

function runShell(gw: Running, example: Example): void {
  const base = new URL(gw.url).origin;
  const script = example.text.replaceAll('http://127.0.0.1:4000', base);
  const r = spawnSync('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expectAnswered(JSON.parse(r.stdout) as { data?: Record<string, unknown>; errors?: unknown[] }, script.slice(0, 60));
}

test('the README fits a screen or two, and its examples are marked for this test', () => {
  expect(README.length).toBeLessThan(10_500);
  expect(EXAMPLES.map((e) => `${e.lang}: ${e.tags.join(', ')}`)).toEqual(['sh: shell', 'graphql: signed-out', 'graphql: mle', 'graphql: signed-out, real data']);
  // Every fenced block of the Examples section is one of them.
  const section = README.slice(README.indexOf('## Examples'), README.indexOf('## Map'));
  expect(section.match(/^```\w+$/gm)).toHaveLength(EXAMPLES.length);
});

describe('on a default start (npm start, nothing configured)', () => {
  let gw: Running;
  beforeAll(async () => {
    gw = await startMain({});
  });
  afterAll(async () => {
    await gw?.stop();
  });

  test.each(EXAMPLES.filter((e) => !e.tags.includes('real data')).map((e) => [e.tags.join(', '), e] as const))('the %s example', async (_tags, example) => {
    if (example.lang === 'sh') runShell(gw, example);
    else await runGraphQL(gw, example);
  });
});

const realData = realDatasetDir();
describe('on the real data (DATASET_DIR)', () => {
  let gw: Running;
  beforeAll(async () => {
    if (realData) gw = await startMain({ DATASET_DIR: realData });
    else process.stdout.write(`[real data] the README's real-data example not run: no Reddit dataset (set REDDIT_DATASET_DIR)\n`);
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
  });

  test.each(EXAMPLES.filter((e) => e.tags.includes('real data')).map((e) => [e.tags.join(', '), e] as const))('the %s example', async (_tags, example) => {
    if (!realData) return;
    await runGraphQL(gw, example);
  });
});
