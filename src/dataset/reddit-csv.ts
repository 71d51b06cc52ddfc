/**
 * Loader for a folder in the public "Reddit Top 2.5 Million" layout (GitHub umbrae/reddit-top-2.5-million):
 * `manifest.json` (subscriber counts) beside `data/<subreddit>.csv` (one file per community).
 *
 * Works on the 100-community subset kept in the shared data folder and on a full upstream clone (2,500 files).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Community, Corpus, Post } from '../content';

/** Part of the fingerprint: bump when the mapping from rows to posts changes, so old snapshots are not reused. */
const LOADER_VERSION = 'reddit-csv/1';

/** Files read and parsed at the same time: enough to overlap I/O with parsing, few enough to bound memory and fds. */
const READ_CONCURRENCY = 8;

/** How many file names a warning line lists before summarising the rest. */
const WARNING_FILE_LIMIT = 5;

/** Columns without which a row cannot become a post. */
const REQUIRED_COLUMNS = ['id', 'title', 'created_utc', 'score'] as const;

interface ManifestEntry {
  readonly subscribers: number | null;
  readonly title: string | null;
}

interface FileResult {
  readonly file: string;
  readonly community: string;
  readonly digest: string;
  readonly posts: Post[];
  readonly malformed: number;
  readonly badCounts: number;
  /** Set when the file could not be used at all (e.g. a header without the required columns). */
  readonly fatal: string | null;
}

export async function loadRedditCsv(dir: string): Promise<{ corpus: Corpus; warnings: string[] }> {
  const root = path.resolve(dir);
  const dataDir = path.join(root, 'data');
  const warnings: string[] = [];

  const files = await listCsvFiles(root, dataDir);
  const manifest = await readManifest(root, warnings);

  // Interning keeps one copy of each domain string; on a full clone that is millions of duplicates saved.
  const domains = new Map<string, string>();
  const results = await mapBounded(files, READ_CONCURRENCY, (file) => readCsvFile(dataDir, file, domains));

  const seen = new Set<string>();
  const posts: Post[] = [];
  const postCounts = new Map<string, number>();
  const malformedByFile: [string, number][] = [];
  const duplicatesByFile: [string, number][] = [];
  const badCountsByFile: [string, number][] = [];
  const fatalFiles: string[] = [];

  // Duplicates are resolved here, in sorted file order, so "first kept" does not depend on read timing.
  for (const r of results) {
    if (!postCounts.has(r.community)) postCounts.set(r.community, 0);
    if (r.fatal) fatalFiles.push(`${r.file} (${r.fatal})`);
    if (r.malformed > 0) malformedByFile.push([r.file, r.malformed]);
    if (r.badCounts > 0) badCountsByFile.push([r.file, r.badCounts]);
    let duplicates = 0;
    let kept = 0;
    for (const post of r.posts) {
      if (seen.has(post.id)) {
        duplicates++;
        continue;
      }
      seen.add(post.id);
      posts.push(post);
      kept++;
    }
    if (duplicates > 0) duplicatesByFile.push([r.file, duplicates]);
    postCounts.set(r.community, (postCounts.get(r.community) ?? 0) + kept);
  }

  if (fatalFiles.length > 0) {
    warnings.push(`skipped ${fatalFiles.length} unreadable file(s): ${listFirst(fatalFiles)}`);
  }
  if (malformedByFile.length > 0) {
    warnings.push(
      `skipped ${sum(malformedByFile)} malformed row(s) (missing id or title, non-numeric created_utc or score, ` +
        `wrong column count or broken quoting): ${listCounts(malformedByFile)}`,
    );
  }
  if (duplicatesByFile.length > 0) {
    warnings.push(`skipped ${sum(duplicatesByFile)} row(s) with an already seen id (first kept): ${listCounts(duplicatesByFile)}`);
  }
  if (badCountsByFile.length > 0) {
    warnings.push(
      `${sum(badCountsByFile)} row(s) had a non-numeric ups, downs or num_comments (read as 0): ${listCounts(badCountsByFile)}`,
    );
  }

  const communities: Community[] = [];
  const unknown: string[] = [];
  for (const name of [...postCounts.keys()].sort(compareStrings)) {
    const entry = manifest?.entries.get(name.toLowerCase());
    if (manifest && !entry) unknown.push(name);
    communities.push({
      name,
      title: entry?.title ?? null,
      subscribers: entry?.subscribers ?? null,
      postCount: postCounts.get(name) ?? 0,
    });
  }
  if (unknown.length > 0) {
    warnings.push(`${unknown.length} communit${unknown.length === 1 ? 'y is' : 'ies are'} not in manifest.json (subscribers unknown): ${listFirst(unknown)}`);
  }

  const fingerprint = computeFingerprint(results, manifest?.digest ?? null);
  return {
    corpus: {
      info: {
        source: 'reddit-csv',
        description: `Reddit Top 2.5 Million layout at ${root} (${communities.length} communities)`,
        posts: posts.length,
        communities: communities.length,
        fingerprint,
      },
      posts,
      communities,
    },
    warnings,
  };
}

async function listCsvFiles(root: string, dataDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fsp.readdir(dataDir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const rootExists = await fsp.stat(root).then((s) => s.isDirectory(), () => false);
      throw new Error(
        rootExists
          ? `Reddit dataset folder ${root} has no data/ folder (expected ${dataDir} with one <subreddit>.csv per community)`
          : `Reddit dataset folder ${root} does not exist (expected ${dataDir} with one <subreddit>.csv per community)`,
      );
    }
    throw new Error(`cannot read the Reddit data folder ${dataDir}: ${(err as Error).message}`);
  }
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.') && /\.csv$/i.test(e.name))
    .map((e) => e.name);
  if (files.length === 0) {
    throw new Error(`Reddit data folder ${dataDir} contains no <subreddit>.csv files`);
  }
  // Sorting by community name (not file name) keeps post order and community order consistent.
  return files.sort((a, b) => compareStrings(communityOf(a), communityOf(b)) || compareStrings(a, b));
}

async function readManifest(
  root: string,
  warnings: string[],
): Promise<{ entries: Map<string, ManifestEntry>; digest: string } | null> {
  const file = path.join(root, 'manifest.json');
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      warnings.push(`no manifest.json in ${root}: community subscriber counts and titles are unknown`);
    } else {
      warnings.push(`cannot read ${file} (${(err as Error).message}): community subscriber counts and titles are unknown`);
    }
    return null;
  }
  const digest = sha256(bytes);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    warnings.push(`${file} is not valid JSON (${(err as Error).message}): community subscriber counts and titles are unknown`);
    return { entries: new Map(), digest };
  }
  if (!Array.isArray(data)) {
    warnings.push(`${file} is not a JSON array: community subscriber counts and titles are unknown`);
    return { entries: new Map(), digest };
  }

  const entries = new Map<string, ManifestEntry>();
  let invalid = 0;
  for (const item of data as unknown[]) {
    const rec = (item ?? {}) as { uri?: unknown; subscribers?: unknown; name?: unknown };
    const match = typeof rec.uri === 'string' ? /\/r\/([^/?#]+)/i.exec(rec.uri) : null;
    const name = match?.[1];
    if (!name) {
      invalid++;
      continue;
    }
    const subscribers =
      typeof rec.subscribers === 'number' && Number.isFinite(rec.subscribers) ? Math.round(rec.subscribers) : null;
    let title: string | null = null;
    if (typeof rec.name === 'string') {
      const sep = rec.name.indexOf(': ');
      title = sep >= 0 ? rec.name.slice(sep + 2).trim() || null : null;
    }
    const key = name.toLowerCase();
    if (!entries.has(key)) entries.set(key, { subscribers, title });
  }
  if (invalid > 0) warnings.push(`ignored ${invalid} manifest.json entr${invalid === 1 ? 'y' : 'ies'} without a /r/<name>/ uri`);
  return { entries, digest };
}

async function readCsvFile(dataDir: string, file: string, domains: Map<string, string>): Promise<FileResult> {
  const community = communityOf(file);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(dataDir, file));
  } catch (err) {
    throw new Error(`cannot read ${path.join(dataDir, file)}: ${(err as Error).message}`);
  }
  const digest = sha256(bytes);
  const posts: Post[] = [];
  let malformed = 0;
  let badCounts = 0;
  let fatal: string | null = null;

  let col: Record<string, number> | null = null;
  let width = 0;
  let headerSeen = false;

  const onRecord = (fields: string[]): null => {
    if (fatal) return null;
    if (!headerSeen) {
      headerSeen = true;
      const index: Record<string, number> = {};
      fields.forEach((name, i) => {
        const key = name.trim().toLowerCase();
        if (!(key in index)) index[key] = i;
      });
      const missing = REQUIRED_COLUMNS.filter((c) => !(c in index));
      if (missing.length > 0) {
        fatal = `header lacks ${missing.join(', ')}`;
        return null;
      }
      col = index;
      width = fields.length;
      return null;
    }
    const c = col as Record<string, number> | null;
    if (!c || fields.length !== width) {
      malformed++;
      return null;
    }
    const get = (name: string): string => {
      const i = c[name];
      return i === undefined ? '' : (fields[i] ?? '');
    };
    const id = get('id').trim();
    const title = get('title');
    const created = parseNumber(get('created_utc'));
    const score = parseNumber(get('score'));
    if (!id || !title.trim() || created === null || score === null) {
      malformed++;
      return null;
    }
    const ups = parseNumber(get('ups'));
    const downs = parseNumber(get('downs'));
    const numComments = parseNumber(get('num_comments'));
    if ((c.ups !== undefined && ups === null) || (c.downs !== undefined && downs === null) || (c.num_comments !== undefined && numComments === null)) {
      badCounts++;
    }
    const domain = emptyToNull(get('domain'));
    posts.push({
      id,
      community,
      title,
      url: emptyToNull(get('url')),
      permalink: emptyToNull(get('permalink')),
      score: Math.round(score),
      ups: Math.round(ups ?? 0),
      downs: Math.round(downs ?? 0),
      numComments: Math.round(numComments ?? 0),
      createdUtc: Math.floor(created),
      domain: domain === null ? null : intern(domains, domain),
      over18: parseBool(get('over_18')),
      isSelf: parseBool(get('is_self')),
    });
    return null;
  };

  try {
    // Every record is turned into a post (or dropped) as it is parsed, so selftext and the other unused columns
    // are never collected into an array.
    parse(bytes, {
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      max_record_size: 4 * 1024 * 1024,
      on_skip: () => {
        malformed++;
        return undefined;
      },
      on_record: onRecord,
    });
  } catch (err) {
    // Rows parsed before the error are kept: one broken file should not cost the rest of the corpus.
    fatal = `CSV error after ${posts.length} rows: ${(err as Error).message}`;
  }
  if (!headerSeen && !fatal) fatal = 'empty file';
  return { file, community, digest, posts, malformed, badCounts, fatal };
}

function computeFingerprint(results: readonly FileResult[], manifestDigest: string | null): string {
  // Hashing per-file digests in sorted order gives the same value however the reads interleaved.
  const h = createHash('sha256');
  h.update(`${LOADER_VERSION}\n`);
  h.update(`manifest.json\0${manifestDigest ?? 'absent'}\n`);
  for (const r of results) h.update(`data/${r.file}\0${r.digest}\n`);
  return h.digest('hex').slice(0, 16);
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of `items`. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function communityOf(file: string): string {
  return file.replace(/\.csv$/i, '');
}

/** Code-unit order: independent of the process locale, so the same folder always loads in the same order. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(text: string): number | null {
  const t = text.trim();
  if (!NUMBER_RE.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function parseBool(text: string): boolean {
  const t = text.trim().toLowerCase();
  return t === 'true' || t === '1';
}

function emptyToNull(text: string): string | null {
  return text.trim() === '' ? null : text;
}

function intern(pool: Map<string, string>, s: string): string {
  const existing = pool.get(s);
  if (existing !== undefined) return existing;
  pool.set(s, s);
  return s;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sum(counts: readonly [string, number][]): number {
  return counts.reduce((acc, [, n]) => acc + n, 0);
}

function listCounts(counts: readonly [string, number][]): string {
  return listFirst(counts.map(([file, n]) => `${file} (${n})`));
}

function listFirst(items: readonly string[]): string {
  const shown = items.slice(0, WARNING_FILE_LIMIT).join(', ');
  return items.length > WARNING_FILE_LIMIT ? `${shown} and ${items.length - WARNING_FILE_LIMIT} more` : shown;
}
