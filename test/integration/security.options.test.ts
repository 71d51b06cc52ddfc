/**
 * The security switches an operator sets: trusted documents, introspection, GraphiQL, the request limits and their
 * variables, CSRF, and error masking per environment. Each against a real gateway over HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Corpus } from '../../src/content';
import { loadConfig } from '../../src/config';
import { generateSyntheticCorpus } from '../../src/dataset/synthetic';
import { documentHash, TrustedDocumentsError } from '../../src/security/trusted-documents';
import { EmbeddedStore } from '../../src/store/embedded';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

const corpus: Corpus = generateSyntheticCorpus({ posts: 2000, seed: 9 });
const PICS = 'query Pics($first: Int) { contextualFeed(context: { community: "pics" }, first: $first) { edges { rank node { id title } } } }';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rg-security-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function post(gw: TestGateway, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

describe('trusted documents', () => {
  let gw: TestGateway;
  const manifest = () => path.join(dir, 'trusted.json');
  beforeAll(async () => {
    writeFileSync(manifest(), JSON.stringify({ [documentHash(PICS)]: PICS }));
    gw = await startTestGateway({ corpus, backend: 'embedded', env: { TRUSTED_DOCUMENTS: manifest(), ALLOW_ARBITRARY_OPERATIONS: 'false' } });
  });
  afterAll(() => gw?.close());

  test('a known hash runs its document; its answer is the same as the text would give', async () => {
    const byHash = await post(gw, { extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(PICS) } }, variables: { first: 3 } });
    expect(byHash.body.errors).toBeUndefined();
    expect(byHash.body.data.contextualFeed.edges).toHaveLength(3);
    const arbitrary = await startTestGateway({ corpus, backend: 'embedded', store: gw.store });
    try {
      const byText = await post(arbitrary, { query: PICS, variables: { first: 3 } });
      expect(byText.body.data).toEqual(byHash.body.data);
    } finally {
      await arbitrary.gateway.close();
    }
  });

  test('operation text is PERSISTED_QUERY_ONLY, an unknown hash PERSISTED_QUERY_NOT_FOUND', async () => {
    const text = await post(gw, { query: PICS });
    expect(text.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(text.body.data ?? null).toBeNull();
    const unknown = await post(gw, { extensions: { persistedQuery: { version: 1, sha256Hash: documentHash('{ rankers { id } }') } } });
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(unknown.status).toBe(404);
  });

  test('arbitrary operations still run beside trusted documents when allowed (the development default)', async () => {
    const dev = await startTestGateway({ corpus, backend: 'embedded', store: gw.store, env: { TRUSTED_DOCUMENTS: manifest() } });
    try {
      expect((await post(dev, { query: '{ rankers { id } }' })).body.errors).toBeUndefined();
      expect((await post(dev, { extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(PICS) } } })).body.errors).toBeUndefined();
    } finally {
      await dev.gateway.close();
    }
  });

  test('a manifest with a document the schema refuses stops start-up, naming the document', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ good: PICS, stale: '{ personalizedFeed { nodes { id } } }' }));
    await expect(startTestGateway({ corpus, backend: 'embedded', store: new EmbeddedStore(), env: { TRUSTED_DOCUMENTS: bad } })).rejects.toThrow(TrustedDocumentsError);
    await expect(startTestGateway({ corpus, backend: 'embedded', store: new EmbeddedStore(), env: { TRUSTED_DOCUMENTS: bad } })).rejects.toThrow(/document stale/);
  });
});

describe('production switches', () => {
  test('production turns introspection, GraphiQL and arbitrary operations (with trusted documents) off; each can be turned back on', () => {
    const prod = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) });
    expect(prod.security.introspection).toBe(false);
    expect(prod.graphiql).toBe(false);
    expect(prod.security.allowArbitraryOperations).toBe(false);
    const opened = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), INTROSPECTION: 'true', GRAPHIQL: 'true', ALLOW_ARBITRARY_OPERATIONS: 'true' });
    expect([opened.security.introspection, opened.graphiql, opened.security.allowArbitraryOperations]).toEqual([true, true, true]);
    const dev = loadConfig({});
    expect([dev.security.introspection, dev.graphiql, dev.security.allowArbitraryOperations]).toEqual([true, true, true]);
  });

  test('a limit variable out of range is refused at start-up by name', () => {
    expect(() => loadConfig({ MAX_DEPTH: '1' })).toThrow(/MAX_DEPTH must be at least 2/);
    expect(() => loadConfig({ MAX_BODY_BYTES: 'lots' })).toThrow(/MAX_BODY_BYTES/);
  });

  describe('with introspection off', () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({ corpus, backend: 'embedded', env: { INTROSPECTION: 'false', GRAPHIQL: 'false' } });
    });
    afterAll(() => gw?.close());

    test('__schema and __type are INTROSPECTION_DISABLED, __typename still works, and errors suggest no field names', async () => {
      expect((await post(gw, { query: '{ __schema { queryType { name } } }' })).body.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      expect((await post(gw, { query: '{ __type(name: "Post") { name } }' })).body.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      expect((await post(gw, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' }, extensions: expect.any(Object) });
      const typo = await post(gw, { query: '{ rankerz { id } }' });
      expect(typo.body.errors?.[0]?.message).toBe('Cannot query field "rankerz" on type "Query".');
    });

    test('GraphiQL is not served', async () => {
      const res = await fetch(gw.url, { headers: { accept: 'text/html' } });
      expect(await res.text()).not.toMatch(/graphiql/i);
    });
  });

  test('with introspection on (development), the same typo gets a suggestion and GraphiQL introspects', async () => {
    const gw = await startTestGateway({ corpus, backend: 'embedded' });
    try {
      expect((await post(gw, { query: '{ rankerz { id } }' })).body.errors?.[0]?.message).toMatch(/Did you mean "rankers"/);
      expect((await post(gw, { query: '{ __schema { queryType { name } } }' })).body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await gw.close();
    }
  });
});

describe('request limits', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ corpus, backend: 'embedded', env: { MAX_COST: '500', MAX_DEPTH: '4', MAX_ALIASES: '2', MAX_TOKENS: '200', MAX_BODY_BYTES: '4096' } });
  });
  afterAll(() => gw?.close());

  test('each limit refuses with its own code, the limit and the value found; just under each limit runs', async () => {
    // PICS costs 100 (a ranking) + 1 + first × (edges 1 + rank 1 + node 1 + id 1 + title 1): 226 at 25, 601 at 100.
    expect((await post(gw, { query: PICS, variables: { first: 25 } })).body.errors).toBeUndefined();
    const cost = await post(gw, { query: PICS, variables: { first: 100 } });
    expect(cost.body.errors?.[0]?.extensions).toMatchObject({ code: 'COST_LIMIT_EXCEEDED', cost: 601, maxCost: 500 });
    expect(cost.body.data ?? null).toBeNull();

    // contextualFeed > edges > node > id is 4 deep; one more level (community { name }) is 5.
    expect((await post(gw, { query: '{ contextualFeed(context: { community: "pics" }, first: 1) { edges { node { id } } } }' })).body.errors).toBeUndefined();
    const depth = await post(gw, { query: '{ contextualFeed(context: { community: "pics" }, first: 1) { edges { node { community { name } } } } }' });
    expect(depth.body.errors?.[0]?.extensions).toMatchObject({ code: 'DEPTH_LIMIT_EXCEEDED', depth: 5, maxDepth: 4 });

    expect((await post(gw, { query: '{ a: rankers { id } b: rankers { id } }' })).body.errors).toBeUndefined();
    const aliases = await post(gw, { query: '{ a: rankers { id } b: rankers { id } c: rankers { id } }' });
    expect(aliases.body.errors?.[0]?.extensions).toMatchObject({ code: 'ALIAS_LIMIT_EXCEEDED', aliases: 3, maxAliases: 2 });

    expect((await post(gw, { query: `{ ${Array.from({ length: 150 }, () => '__typename').join(' ')} }` })).body.errors).toBeUndefined();
    const tokens = await post(gw, { query: `{ ${Array.from({ length: 250 }, () => '__typename').join(' ')} }` });
    expect(tokens.body.errors?.[0]?.extensions).toMatchObject({ code: 'TOKEN_LIMIT_EXCEEDED', maxTokens: 200 });

    expect((await post(gw, { query: `{ __typename } # ${'x'.repeat(3500)}` })).status).toBe(200);
    const body = await post(gw, { query: `{ __typename } # ${'x'.repeat(5000)}` });
    expect(body.status).toBe(413);
    expect(body.body.errors?.[0]?.extensions?.code).toBe('BODY_TOO_LARGE');
  });
});

describe('CSRF and error masking', () => {
  test('a text/plain POST is refused unless a preflight header is present; JSON passes', async () => {
    const gw = await startTestGateway({ corpus, backend: 'embedded' });
    try {
      const form = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(form.status).toBe(403);
      expect(((await form.json()) as any).errors[0].extensions.code).toBe('CSRF_REJECTED');
      const preflighted = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-graphql-csrf': '1' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(preflighted.status).not.toBe(403);
      expect((await post(gw, { query: '{ __typename }' })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  test('an unexpected failure is a generic INTERNAL_SERVER_ERROR in production and test, with its cause only in development', async () => {
    const failingStore = (): EmbeddedStore => {
      const store = new EmbeddedStore();
      store.getPosts = async () => {
        throw new TypeError('internal detail: /srv/secret/path.js line 42');
      };
      // Post reads after hydration ask the embedded store in process: they fail the same way.
      store.peekPost = () => {
        throw new TypeError('internal detail: /srv/secret/path.js line 42');
      };
      return store;
    };
    for (const [env, shows] of [['production', false], ['test', false], ['development', true]] as const) {
      const store = failingStore();
      const gw = await startTestGateway({ corpus, backend: 'embedded', store, env: { NODE_ENV: env, JWT_SECRET: 'y'.repeat(40) } });
      try {
        const reply = await post(gw, { query: '{ post(id: "abc") { id } }' });
        expect(reply.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(reply.body.errors?.[0]?.message).toBe('Unexpected error.');
        expect(JSON.stringify(reply.body).includes('internal detail')).toBe(shows);
      } finally {
        await gw.close();
      }
    }
  });
});
