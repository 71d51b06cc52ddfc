/**
 * GraphiQL in a real browser: the page the gateway serves at /graphql must render, run its default query and show
 * the answer without a single request leaving the machine (the stock yoga GraphiQL loads its files from a CDN and is
 * a blank page behind a firewall; ours is bundled by @graphql-yoga/render-graphiql).
 *
 * Drives Debian's chromium through playwright-core (never `npx playwright install`). Without chromium the test says
 * it did not run, and why, instead of failing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { FEED_PIPELINES } from '../../src/pipeline/feeds';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

const TIMEOUT_MS = 60_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * CHROMIUM_PATH when set (returned even if wrong, so a typo fails loudly rather than silently not running), else the
 * first `chromium` on PATH (what `which chromium` answers), else Debian's /usr/bin/chromium; null when none exists.
 */
function findChromium(): string | null {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((d) => path.join(d, 'chromium')), '/usr/bin/chromium']) {
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** GraphiQL's response editor is Monaco, which renders only the lines in view: read its whole model when we can. */
async function readResponsePane(page: Page): Promise<{ full: string; visible: string }> {
  return page.evaluate(() => {
    const pane = document.querySelector('.graphiql-response');
    const visible = pane instanceof HTMLElement ? pane.innerText : '';
    // GraphiQL 5 keeps its Monaco instance on globalThis.__MONACO; the result model's URI ends in "-response.json".
    const monaco = (globalThis as { __MONACO?: { editor?: { getModels(): { uri: { toString(): string }; getValue(): string }[] } } }).__MONACO;
    const model = monaco?.editor?.getModels().find((m) => m.uri.toString().endsWith('-response.json'));
    return { full: model ? model.getValue() : visible, visible };
  });
}

const chromiumPath = findChromium();

if (chromiumPath === null) {
  // process.stdout rather than console.log: jest decorates console output with a stack trace.
  process.stdout.write(
    '[browser] GraphiQL browser test not run: chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)\n',
  );
  test('GraphiQL browser test not run: chromium not installed (apt-get install -y chromium)', () => {});
} else {
  describe('GraphiQL in a real browser', () => {
    let gw: TestGateway | null = null;
    let browser: Browser | null = null;

    beforeAll(async () => {
      gw = await startTestGateway({ corpus: generateSyntheticCorpus(), backend: 'embedded' });
      browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: TIMEOUT_MS });
    }, TIMEOUT_MS);

    afterAll(async () => {
      // Each in its own try: a failed browser close must not leave the gateway listening.
      try {
        await browser?.close();
      } finally {
        await gw?.close();
      }
    }, TIMEOUT_MS);

    test(
      'renders, runs the default query over loopback only, and shows ranked results',
      async () => {
        if (!gw || !browser) throw new Error('setup failed');
        const origin = new URL(gw.url).origin; // http://127.0.0.1:<port>
        const isLocal = (url: string) =>
          url.startsWith(`${origin}/`) || url.startsWith(`blob:${origin}/`) || url.startsWith('data:') || url === 'about:blank';

        const outside: string[] = []; // requests aborted because they were not for the gateway
        const seen: string[] = []; // every request the browser reported, worker requests included
        const pageErrors: string[] = [];
        const consoleErrors: string[] = [];

        // Service workers could fetch behind the router's back; GraphiQL registers none, and none may.
        const context: BrowserContext = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1400, height: 900 } });
        try {
          // Context-wide, so requests of workers and popups are routed too, not only the page's own.
          await context.route('**/*', async (route) => {
            const url = route.request().url();
            if (isLocal(url)) return route.continue();
            outside.push(`${route.request().method()} ${url}`);
            return route.abort('blockedbyclient');
          });
          context.on('request', (r: Request) => seen.push(r.url()));
          const page = await context.newPage();
          page.on('pageerror', (err) => pageErrors.push(err.stack ?? err.message));
          page.on('console', (msg) => {
            if (msg.type() === 'error') consoleErrors.push(msg.text());
          });
          page.on('websocket', (ws) => {
            if (!isLocal(ws.url().replace(/^ws/, 'http'))) outside.push(`WEBSOCKET ${ws.url()}`);
          });

          const isFeedsPost = (r: Request) => r.method() === 'POST' && r.url().startsWith(gw!.url) && /query\s+Feeds\b/.test(r.postData() ?? '');
          const isIntrospection = (r: Request) => r.method() === 'POST' && r.url().startsWith(gw!.url) && /IntrospectionQuery|__schema/.test(r.postData() ?? '');
          const introspected = page.waitForResponse((res) => isIntrospection(res.request()), { timeout: TIMEOUT_MS });

          // A navigation asks for text/html, which is what makes yoga answer with GraphiQL rather than JSON.
          const nav = await page.goto(gw.url, { waitUntil: 'load', timeout: TIMEOUT_MS });
          expect(nav?.status()).toBe(200);
          expect(nav?.headers()['content-type']).toMatch(/text\/html/);

          // Rendered: the query editor shows the default query, and the schema has been fetched (so the run is not
          // racing GraphiQL's own start-up).
          await page.waitForFunction(
            () => (document.querySelector('.graphiql-query-editor') as HTMLElement | null)?.innerText.includes('personalizedFeed') === true,
            undefined,
            { timeout: TIMEOUT_MS },
          );
          expect((await introspected).status()).toBe(200);

          const execute = page.locator('.graphiql-execute-button, button[aria-label^="Execute query"]').first();
          await execute.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
          const answered = page.waitForResponse((res) => isFeedsPost(res.request()), { timeout: TIMEOUT_MS });
          await execute.click();
          const network = await answered;
          expect(network.status()).toBe(200);
          const networkBody = (await network.json()) as { data?: Record<string, any>; errors?: unknown[] };

          // The result pane shows it.
          await page.waitForFunction(
            () => (document.querySelector('.graphiql-response') as HTMLElement | null)?.innerText.includes('"rankedBy"') === true,
            undefined,
            { timeout: TIMEOUT_MS },
          );
          const { full, visible } = await readResponsePane(page);
          expect(visible).toContain('"rankedBy"');
          expect(full).toContain('"rankedBy"');
          expect(full).toContain('"title"');
          expect(full).not.toContain('"errors"');

          // What the pane shows is the gateway's answer, and that answer holds ranked posts with titles.
          const shown = JSON.parse(full) as { data: Record<string, any> };
          expect(shown).toEqual(networkBody);
          const home = shown.data.home as { rankedBy: { id: string }; edges: { node: { title: string } }[] };
          const pics = shown.data.pics as { rankedBy: { id: string }; edges: { node: { title: string } }[] };
          expect(home.rankedBy.id).toBe(FEED_PIPELINES.home.scorer.defaultRanker);
          expect(home.edges.length).toBeGreaterThan(0);
          expect(pics.rankedBy.id).toBe('top');
          expect(pics.edges.length).toBeGreaterThan(0);
          for (const edge of [...home.edges, ...pics.edges]) expect(edge.node.title).toEqual(expect.any(String));

          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphiql-browser-'));
          const shot = path.join(dir, 'graphiql.png');
          await page.screenshot({ path: shot });
          process.stdout.write(`[browser] GraphiQL screenshot: ${shot}\n`);

          expect({ outside, pageErrors, consoleErrors }).toEqual({ outside: [], pageErrors: [], consoleErrors: [] });
          expect(seen.filter((u) => !isLocal(u))).toEqual([]);
        } finally {
          await context.close();
        }
      },
      TIMEOUT_MS * 2,
    );
  });
}
