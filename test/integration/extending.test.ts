/**
 * docs/extending.md is executable: its code blocks are applied, in order, to a copy of the repository (a candidate
 * source, a filter, a ranker kind and a feed, each by copying a sibling and registering it), which is then given its
 * resolver types, built, checked for layering, started, and asked for the new feed. If the page's instructions stop
 * being true (a file moved, an anchor line changed, a step missing), this fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TokenService } from '../../src/auth/tokens';
import { DEVELOPMENT_JWT_SECRET } from '../../src/config';
import { ROOT, startMain, type Running } from '../helpers/main-process';

interface Step {
  readonly file: string;
  readonly where: { readonly at: 'after' | 'before'; readonly anchor: string } | null;
  readonly lines: readonly string[];
}

/** The page's code blocks that say where they go: ```lang file=PATH [after="TEXT" | before="TEXT"]. */
function stepsOf(markdown: string): Step[] {
  const steps: Step[] = [];
  const block = /^```\w*[ \t]+file=(\S+)(?:[ \t]+(after|before)=(?:"((?:[^"\\]|\\.)*)"|'([^']*)'))?[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const m of markdown.matchAll(block)) {
    const anchor = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4];
    steps.push({ file: m[1]!, where: m[2] ? { at: m[2] as 'after' | 'before', anchor: anchor! } : null, lines: m[5]!.replace(/\n$/, '').split('\n') });
  }
  return steps;
}

function apply(root: string, step: Step): void {
  const file = path.join(root, step.file);
  if (!step.where) {
    expect({ file: step.file, exists: existsSync(file) }).toEqual({ file: step.file, exists: false });
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${step.lines.join('\n')}\n`);
    return;
  }
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(step.where!.anchor));
  if (at < 0) throw new Error(`docs/extending.md: no line of ${step.file} contains ${JSON.stringify(step.where.anchor)}`);
  lines.splice(step.where.at === 'after' ? at + 1 : at, 0, ...step.lines);
  writeFileSync(file, lines.join('\n'));
}

function run(cwd: string, command: string, args: string[]): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

const DOC = readFileSync(path.join(ROOT, 'docs/extending.md'), 'utf8');
let dir: string;
let gw: Running;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rg-extending-'));
  for (const entry of ['src', 'resolvers', 'schema', 'models', 'codegen.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', '.dependency-cruiser.cjs']) {
    cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const step of stepsOf(DOC)) apply(dir, step);
  const bin = (name: string) => path.join(ROOT, 'node_modules/.bin', name);
  run(dir, bin('graphql-codegen'), ['--config', 'codegen.ts']);
  run(dir, bin('tsc'), ['-p', 'tsconfig.build.json']);
  run(dir, bin('depcruise'), ['src', 'resolvers', '--config', '.dependency-cruiser.cjs']);
  gw = await startMain({}, path.join(dir, 'dist/src/main.js'));
}, 300_000);

afterAll(async () => {
  await gw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function query(q: string, token?: string): Promise<Record<string, any>> {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query: q }) });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors) throw new Error(`errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

test('the page has a step for each of source, filter, ranker kind, variant, pipeline, schema and resolver', () => {
  const files = stepsOf(DOC).map((s) => s.file);
  expect(new Set(files)).toEqual(
    new Set([
      'src/candidates/newest.ts',
      'src/candidates/index.ts',
      'src/filters/text-posts.ts',
      'src/filters/index.ts',
      'src/rankers/comments.ts',
      'src/rankers/registry.ts',
      'models/rankers.json',
      'src/pipeline/feeds.ts',
      'schema/discussions.graphql',
      'resolvers/query.ts',
    ]),
  );
});

test('the new feed serves its source, filter and ranker, diversified, signed out', async () => {
  const feed = (await query('{ discussionsFeed(first: 30) { rankedBy { id } edges { rank node { id isSelf numComments community { name } } } } }')).discussionsFeed;
  expect(feed.rankedBy.id).toBe('most-discussed');
  expect(feed.edges).toHaveLength(30);
  for (const e of feed.edges) expect(e.node.isSelf).toBe(true);
  // The feed's diversity rule (3 of one community in any 10).
  for (let i = 0; i + 10 <= feed.edges.length; i++) {
    const counts = new Map<string, number>();
    for (const e of feed.edges.slice(i, i + 10)) counts.set(e.node.community.name, (counts.get(e.node.community.name) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(3);
  }
});

test('its ranker kind, asked for explicitly, orders by comments; the funnel shows its source and filter', async () => {
  const mle = await new TokenService(DEVELOPMENT_JWT_SECRET).sign('extending-mle', { roles: ['mle'] });
  const feed = (
    await query(
      '{ discussionsFeed(first: 50, ranker: "most-discussed") { edges { node { numComments } } funnel { retrieved { name count } filtered { name count } } } rankers { id kind } }',
      mle,
    )
  );
  const comments = feed.discussionsFeed.edges.map((e: { node: { numComments: number } }) => e.node.numComments);
  for (let i = 1; i < comments.length; i++) expect(comments[i]).toBeLessThanOrEqual(comments[i - 1]);
  expect(comments[0]).toBeGreaterThan(comments[comments.length - 1]);
  const funnel = feed.discussionsFeed.funnel;
  expect(funnel.retrieved).toEqual([{ name: 'newest', count: 600 }]);
  expect(funnel.filtered.find((f: { name: string }) => f.name === 'text-posts').count).toBeGreaterThan(0);
  expect(feed.rankers).toContainEqual({ id: 'most-discussed', kind: 'comments' });
});
