/**
 * Hostile and broken requests against the built gateway as production runs it (`NODE_ENV=production`, a real
 * JWT_SECRET, Redis on a private redis-server), in its own process so that a crash would show: each request gets a
 * 4xx or a coded GraphQL error, the process stays up and answers a normal request afterwards, nothing is written to
 * Redis outside the gateway's key prefix, and no token reaches the logs. Then: a token for viewer A reaches viewer
 * B's feed by no argument or header.
 */
import http from 'node:http';
import { SignJWT } from 'jose';
import Redis from 'ioredis';
import { TokenService } from '../../src/auth/tokens';
import { startMain, type Running } from '../helpers/main-process';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

const SECRET = 'hostile-test-secret-0123456789abcdef-0123456789';
const PREFIX = 'rghostile:';
const tokens = new TokenService(SECRET);

let redis: TestRedis;
let gw: Running;
let base: URL;

beforeAll(async () => {
  redis = await startRedisServer();
  gw = await startMain({ NODE_ENV: 'production', JWT_SECRET: SECRET, REDIS_URL: redis.url, REDIS_KEY_PREFIX: PREFIX, SYNTHETIC_POSTS: '4000', RANKERS_WATCH: 'false' });
  base = new URL(gw.url);
}, 90_000);

afterAll(async () => {
  if (gw) await gw.stop();
  await redis?.stop();
});

interface Reply {
  status: number;
  text: string;
  json: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } | null;
}

/** One raw HTTP request (node:http, so headers, bodies and encodings are exactly what the case says). */
function send(req: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders | string[]; body?: string | Buffer; chunks?: Buffer[] }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: base.hostname, port: base.port, method: req.method ?? 'POST', path: req.path ?? '/graphql', headers: req.headers, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json: Reply['json'] = null;
          try {
            json = JSON.parse(text) as Reply['json'];
          } catch {
            /* not JSON: fine for a 4xx */
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    // The server may answer (413) and close while the body is still being written.
    r.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: 0, text: err.code, json: null }) : reject(err)));
    if (req.chunks) {
      for (const c of req.chunks) r.write(c);
      r.end();
    } else {
      r.end(req.body);
    }
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };
const gql = (query: string, variables?: unknown, extra: Record<string, string> = {}) => ({
  headers: { ...JSON_HEADERS, ...extra },
  body: JSON.stringify({ query, variables }),
});
const asViewer = (token: string) => ({ authorization: `Bearer ${token}` });
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const HOME = 'query Home($after: String) { personalizedFeed(first: 5, after: $after) { edges { cursor node { id } } pageInfo { endCursor } } }';
const TEN_KB = 'x'.repeat(10_240);

interface Case {
  name: string;
  request: () => Promise<Parameters<typeof send>[0]>;
  /** The exact HTTP status, when one is promised. */
  status?: number;
  /** The `extensions.code` one of the errors must carry. */
  code?: string;
}

const aliasBomb = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: rankers { id }`).join(' ')} }`;
const nested = (depth: number) => `{ rankers ${'{ id '.repeat(depth)}${'}'.repeat(depth)} }`;
/** Each level spreads the one below twice: the expanded document doubles per level (2^levels aliases). */
const fragmentBomb = (levels: number) => {
  const defs = ['fragment L0 on Query { rankers { id } }'];
  for (let i = 1; i <= levels; i++) defs.push(`fragment L${i} on Query { ...L${i - 1} b${i}: features { name } ...L${i - 1} }`);
  return `{ ...L${levels} } ${defs.join(' ')}`;
};

const CASES: Case[] = [
  // Transport and encoding
  { name: 'invalid JSON', request: async () => ({ headers: JSON_HEADERS, body: '{"query": "{ rankers { id } }"' }), status: 400 },
  { name: 'JSON that is an array', request: async () => ({ headers: JSON_HEADERS, body: '[{"query":"{ rankers { id } }"}]' }) },
  { name: 'JSON that is a string', request: async () => ({ headers: JSON_HEADERS, body: '"{ rankers { id } }"' }) },
  { name: 'JSON null', request: async () => ({ headers: JSON_HEADERS, body: 'null' }) },
  { name: 'empty body', request: async () => ({ headers: JSON_HEADERS, body: '' }) },
  { name: 'query is a number', request: async () => ({ headers: JSON_HEADERS, body: '{"query": 5}' }) },
  { name: 'variables are a string', request: async () => ({ headers: JSON_HEADERS, body: '{"query": "{ rankers { id } }", "variables": "x"}' }) },
  { name: 'text/plain body (CSRF)', request: async () => ({ headers: { 'content-type': 'text/plain' }, body: '{"query":"mutation { markSeen(postIds: []) }"}' }), status: 403, code: 'CSRF_REJECTED' },
  { name: 'form body (CSRF)', request: async () => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7Brankers%7Bid%7D%7D' }), status: 403, code: 'CSRF_REJECTED' },
  { name: 'multipart body (CSRF)', request: async () => ({ headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\n\r\n--x--' }), status: 403, code: 'CSRF_REJECTED' },
  { name: 'no content type', request: async () => ({ headers: {}, body: '{"query":"{ rankers { id } }"}' }), status: 403, code: 'CSRF_REJECTED' },
  { name: 'XML content type', request: async () => ({ headers: { 'content-type': 'application/xml' }, body: '<query/>' }) },
  { name: 'mutation over GET', request: async () => ({ method: 'GET', path: `/graphql?query=${encodeURIComponent('mutation { markSeen(postIds: ["a"]) }')}`, headers: { accept: 'application/json' } }), status: 405 },
  { name: 'PUT', request: async () => ({ method: 'PUT', ...gql('{ rankers { id } }') }) },
  { name: 'body over the size limit', request: async () => ({ headers: JSON_HEADERS, body: JSON.stringify({ query: `{ rankers { id } } #${'x'.repeat(100_000)}` }) }), status: 413, code: 'BODY_TOO_LARGE' },
  { name: 'oversized variables', request: async () => gql('query Q($ids: [ID!]!) { rankers { id } }', { ids: Array.from({ length: 20_000 }, (_, i) => `id${i}`) }), status: 413, code: 'BODY_TOO_LARGE' },
  {
    name: 'chunked body over the limit (no Content-Length)',
    request: async () => ({ headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' }, chunks: [Buffer.from('{"query":"{ rankers { id } }","x":"'), ...Array.from({ length: 40 }, () => Buffer.alloc(4096, 'x')), Buffer.from('"}')] }),
  },
  { name: 'a 20 KB header', request: async () => gql('{ rankers { id } }', undefined, { 'x-junk': 'x'.repeat(20_000) }), status: 431 },

  // Documents
  { name: 'empty query', request: async () => gql('') },
  { name: 'syntax error', request: async () => gql('{ rankers { id }') },
  { name: 'unknown field (no suggestions in production)', request: async () => gql('{ rankerz { id } }') },
  { name: 'introspection (off in production)', request: async () => gql('{ __schema { types { name } } }'), code: 'INTROSPECTION_DISABLED' },
  { name: '__type introspection', request: async () => gql('{ __type(name: "Post") { fields { name } } }'), code: 'INTROSPECTION_DISABLED' },
  { name: 'deeply nested selection', request: async () => gql(nested(40)), code: 'DEPTH_LIMIT_EXCEEDED' },
  { name: '5,000 levels of braces', request: async () => gql(`{ ${'a { '.repeat(5000)}${'} '.repeat(5000)}}`), code: 'TOKEN_LIMIT_EXCEEDED' },
  { name: 'alias bomb', request: async () => gql(aliasBomb(200)), code: 'ALIAS_LIMIT_EXCEEDED' },
  { name: 'alias bomb through fragments', request: async () => gql(`{ ...A ...A } fragment A on Query { ${Array.from({ length: 12 }, (_, i) => `r${i}: rankers { id }`).join(' ')} }`), code: 'ALIAS_LIMIT_EXCEEDED' },
  { name: 'fragment bomb (doubling per level)', request: async () => gql(fragmentBomb(14)), code: 'ALIAS_LIMIT_EXCEEDED' },
  { name: 'fragment cycle', request: async () => gql('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }') },
  {
    name: 'cost: ten feeds of 100 with explanations',
    request: async () => gql(`{ ${Array.from({ length: 10 }, (_, i) => `f${i}: contextualFeed(context: { community: "pics" }, first: 100) { edges { node { id } explanation { features { name value contribution } } } }`).join(' ')} }`),
    code: 'COST_LIMIT_EXCEEDED',
  },
  {
    name: 'cost through a variable page size',
    request: async () => gql('query Q($n: Int) { a: contextualFeed(context: { community: "pics" }, first: $n) { edges { node { id } explanation { features { name value contribution } } } } b: contextualFeed(context: { community: "pics" }, first: $n) { edges { explanation { features { name value contribution } } } } }', { n: 100 }),
    code: 'COST_LIMIT_EXCEEDED',
  },
  { name: 'first: 101', request: async () => gql('{ contextualFeed(context: { community: "pics" }, first: 101) { edges { cursor } } }'), code: 'BAD_USER_INPUT' },
  { name: 'first: -1', request: async () => gql('{ contextualFeed(context: { community: "pics" }, first: -1) { edges { cursor } } }'), code: 'BAD_USER_INPUT' },
  { name: 'first beyond 32 bits', request: async () => gql('{ contextualFeed(context: { community: "pics" }, first: 99999999999) { edges { cursor } } }') },
  { name: 'deadlineMs: -5', request: async () => gql('{ contextualFeed(context: { community: "pics" }, deadlineMs: -5) { edges { cursor } } }'), code: 'BAD_USER_INPUT' },
  { name: 'two operations, no operationName', request: async () => gql('query A { rankers { id } } query B { features { name } }') },
  { name: 'operationName that names nothing', request: async () => ({ headers: JSON_HEADERS, body: JSON.stringify({ query: 'query A { rankers { id } }', operationName: 'B' }) }) },
  { name: 'empty @oneOf context', request: async () => gql('{ contextualFeed(context: {}) { edges { cursor } } }') },
  { name: 'both @oneOf fields', request: async () => gql('{ contextualFeed(context: { community: "pics", post: "abc" }) { edges { cursor } } }') },

  // Ids and names that must never become store keys
  { name: 'post id *', request: async () => gql('{ post(id: "*") { id } }'), code: 'BAD_USER_INPUT' },
  { name: 'post id {x} (a cluster hash tag)', request: async () => gql('{ post(id: "{x}") { id } }'), code: 'BAD_USER_INPUT' },
  { name: 'post id with a newline', request: async () => gql('query Q($id: ID!) { post(id: $id) { id } }', { id: 'abc\r\nFLUSHALL' }), code: 'BAD_USER_INPUT' },
  { name: 'post id of 10 KB', request: async () => gql('query Q($id: ID!) { post(id: $id) { id } }', { id: TEN_KB }), code: 'BAD_USER_INPUT' },
  { name: 'community name *', request: async () => gql('{ community(name: "*") { name } }'), code: 'BAD_USER_INPUT' },
  { name: 'feed context community {x}', request: async () => gql('{ contextualFeed(context: { community: "{x}" }) { edges { cursor } } }'), code: 'BAD_USER_INPUT' },
  { name: 'feed context post * ', request: async () => gql('{ contextualFeed(context: { post: "*" }) { edges { cursor } } }'), code: 'BAD_USER_INPUT' },
  { name: 'ranker of 10 KB', request: async () => gql('query Q($r: String) { contextualFeed(context: { community: "pics" }, ranker: $r) { edges { cursor } } }', { r: TEN_KB }), code: 'UNKNOWN_RANKER' },
  { name: 'interleave of * and {x}', request: async () => gql('{ contextualFeed(context: { community: "pics" }, ranker: "interleave:*,{x}") { edges { cursor } } }'), code: 'UNKNOWN_RANKER' },
  { name: 'markSeen with * and {x}', request: async () => gql('mutation { markSeen(postIds: ["*", "{x}"]) }', undefined, asViewer(await tokens.sign('hostile-1'))), code: 'BAD_USER_INPUT' },
  { name: 'markSeen with 501 ids', request: async () => gql('mutation M($ids: [ID!]!) { markSeen(postIds: $ids) }', { ids: Array.from({ length: 501 }, (_, i) => `p${i}`) }, asViewer(await tokens.sign('hostile-1'))), code: 'BAD_USER_INPUT' },
  { name: 'blockCommunity with a newline', request: async () => gql('mutation M($n: String!) { blockCommunity(name: $n) { blockedCommunities } }', { n: 'pics\nDEL *' }, asViewer(await tokens.sign('hostile-1'))), code: 'BAD_USER_INPUT' },
  { name: 'unblockCommunity of 10 KB', request: async () => gql('mutation M($n: String!) { unblockCommunity(name: $n) { blockedCommunities } }', { n: TEN_KB }, asViewer(await tokens.sign('hostile-1'))), code: 'BAD_USER_INPUT' },

  // Tokens
  { name: 'no token for the home feed', request: async () => gql(HOME), code: 'UNAUTHENTICATED' },
  { name: 'token signed with another secret', request: async () => gql(HOME, undefined, asViewer(await new TokenService('another-secret-another-secret-another-secret').sign('alice'))), code: 'UNAUTHENTICATED' },
  {
    name: 'expired token',
    request: async () =>
      gql(HOME, undefined, asViewer(await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt(1_600_000_000).setExpirationTime(1_600_000_060).sign(new TextEncoder().encode(SECRET)))),
    code: 'UNAUTHENTICATED',
  },
  { name: 'alg: none token', request: async () => gql(HOME, undefined, asViewer(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'alice', roles: ['mle'] })}.`)), code: 'UNAUTHENTICATED' },
  {
    name: 'token whose payload was swapped (sub and role)',
    request: async () => {
      const [h, , s] = (await tokens.sign('alice')).split('.');
      return gql(HOME, undefined, asViewer(`${h}.${b64url({ sub: 'bob', roles: ['mle'] })}.${s}`));
    },
    code: 'UNAUTHENTICATED',
  },
  { name: 'HS512 token', request: async () => gql(HOME, undefined, asViewer(await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('alice').sign(new TextEncoder().encode(SECRET)))), code: 'UNAUTHENTICATED' },
  { name: 'Basic authorization', request: async () => gql(HOME, undefined, { authorization: 'Basic YWxpY2U6cGFzcw==' }), code: 'UNAUTHENTICATED' },
  { name: 'token of 10 KB', request: async () => gql(HOME, undefined, asViewer(TEN_KB)), code: 'UNAUTHENTICATED' },

  // Cursors
  { name: 'cursor *', request: async () => gql(HOME, { after: '*' }, asViewer(await tokens.sign('hostile-2'))), code: 'INVALID_CURSOR' },
  { name: 'cursor of 10 KB', request: async () => gql(HOME, { after: TEN_KB }, asViewer(await tokens.sign('hostile-2'))), code: 'INVALID_CURSOR' },
  {
    name: 'tampered cursor',
    request: async () => {
      const token = await tokens.sign('hostile-2');
      const cursor = (await send(gql(HOME, {}, asViewer(token)))).json!.data.personalizedFeed.pageInfo.endCursor as string;
      const flipped = cursor.slice(0, 10) + (cursor[10] === 'A' ? 'B' : 'A') + cursor.slice(11);
      return gql(HOME, { after: flipped }, asViewer(token));
    },
    code: 'INVALID_CURSOR',
  },

  // Roles
  { name: 'explanation as a plain viewer', request: async () => gql('{ personalizedFeed(first: 2) { edges { explanation { ranker } } } }', undefined, asViewer(await tokens.sign('hostile-3'))), code: 'FORBIDDEN' },
  { name: 'funnel as a plain viewer', request: async () => gql('{ personalizedFeed(first: 2) { funnel { scored } } }', undefined, asViewer(await tokens.sign('hostile-3'))), code: 'FORBIDDEN' },
  { name: 'compareRankers as a plain viewer', request: async () => gql('{ compareRankers(a: "hot", b: "top") { overlapAtK } }', undefined, asViewer(await tokens.sign('hostile-3'))), code: 'FORBIDDEN' },
  { name: 'persisted-query hash the gateway does not know', request: async () => ({ headers: JSON_HEADERS, body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }) }) },
];

describe('hostile and broken requests (production settings, own process, real Redis)', () => {
  test('the table has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const reply = await send(await c.request());
    const codes = (reply.json?.errors ?? []).map((e) => e.extensions?.code);
    const context = `HTTP ${reply.status}: ${reply.text.slice(0, 300)}`;
    if (c.status !== undefined) expect([reply.status, context]).toEqual([c.status, context]);
    // A 4xx, or a GraphQL response whose every error carries a code. Never a 5xx, never a dropped connection
    // (except the server closing on an over-limit chunked body after answering, which node reports as a reset).
    const refusedAtTransport = reply.status >= 400 && reply.status < 500;
    const codedGraphQLError = reply.status === 200 && codes.length > 0 && codes.every((code) => typeof code === 'string' && code.length > 0);
    const resetAfterLimit = c.name.startsWith('chunked') && reply.status === 0;
    expect([refusedAtTransport || codedGraphQLError || resetAfterLimit, context]).toEqual([true, context]);
    if (c.code) expect([codes, context]).toEqual([expect.arrayContaining([c.code]), context]);
    // Nothing a refused request asked for is returned, and a masked error never reaches the client.
    expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
    expect(reply.text).not.toMatch(/Did you mean|at .*\.js:\d+/);
  });

  test('afterwards the process is up, answers a normal request, wrote only its own keys and logged no token', async () => {
    expect(gw.child.exitCode).toBeNull();
    expect((await fetch(new URL('/healthz', base))).status).toBe(200);
    const token = await tokens.sign('after-the-storm');
    const reply = await send(gql(HOME, {}, asViewer(token)));
    expect(reply.status).toBe(200);
    expect(reply.json?.errors).toBeUndefined();
    expect(reply.json?.data.personalizedFeed.edges).toHaveLength(5);

    const client = new Redis(redis.url);
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      expect(keys.length).toBeGreaterThan(100); // the corpus, snapshots, seen sets: the gateway did write
      expect(keys.filter((k) => !k.startsWith(PREFIX))).toEqual([]);
      // The hostile ids never became part of a key.
      expect(keys.filter((k) => /[*\n]|FLUSHALL|DEL /.test(k))).toEqual([]);
    } finally {
      client.disconnect();
    }
    expect(gw.output()).not.toContain(token);
    expect(gw.output()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});

describe("a viewer's token reaches no other viewer's feed", () => {
  const feedIds = async (token: string, extra: Record<string, string> = {}) => {
    const reply = await send(gql('{ personalizedFeed(first: 25) { edges { node { id } } } }', undefined, { ...asViewer(token), ...extra }));
    expect(reply.json?.errors).toBeUndefined();
    return (reply.json!.data.personalizedFeed.edges as { node: { id: string } }[]).map((e) => e.node.id);
  };

  test('headers, arguments, cursors and forged tokens all fail to reach B', async () => {
    const alice = await tokens.sign('isolation-alice');
    const bob = await tokens.sign('isolation-bob');
    const aliceFeed = await feedIds(alice);
    const bobFeed = await feedIds(bob);
    // Different viewers get different feeds here, so "got A's feed" and "got B's feed" can be told apart.
    expect(aliceFeed).not.toEqual(bobFeed);

    // Identity headers a proxy might set are not read: A still gets A's feed.
    for (const h of ['x-viewer-id', 'x-user-id', 'x-forwarded-user', 'x-remote-user', 'x-auth-request-user', 'x-on-behalf-of']) {
      expect(await feedIds(alice, { [h]: 'isolation-bob' })).toEqual(aliceFeed);
    }
    // No argument names a viewer on the feed fields.
    for (const arg of ['viewer: "isolation-bob"', 'userId: "isolation-bob"', 'as: "isolation-bob"']) {
      const reply = await send(gql(`{ personalizedFeed(first: 5, ${arg}) { edges { node { id } } } }`, undefined, asViewer(alice)));
      expect(reply.json?.data ?? null).toBeNull();
      expect(reply.json?.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
    // Acting as another viewer is an MLE tool: a plain viewer is refused.
    const compare = await send(gql('{ compareRankers(a: "hot", b: "top", viewer: "isolation-bob") { overlapAtK } }', undefined, asViewer(alice)));
    expect(compare.json?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // B's cursor is bound to B's request: A cannot continue B's feed with it.
    const bobPage = await send(gql(HOME, {}, asViewer(bob)));
    const bobCursor = bobPage.json!.data.personalizedFeed.pageInfo.endCursor as string;
    const stolen = await send(gql(HOME, { after: bobCursor }, asViewer(alice)));
    expect(stolen.json?.errors?.[0]?.extensions?.code).toBe('INVALID_CURSOR');
    expect(stolen.json?.data ?? null).toBeNull();
    // A token naming B that the gateway did not sign, and B's claims on A's signature, are refused.
    const forged = await send(gql(HOME, {}, asViewer(await new TokenService('not-the-gateway-secret-not-the-gateway').sign('isolation-bob'))));
    expect(forged.json?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const [h, , s] = alice.split('.');
    const swapped = await send(gql(HOME, {}, asViewer(`${h}.${b64url({ sub: 'isolation-bob' })}.${s}`)));
    expect(swapped.json?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Two Authorization headers: node keeps the first; never B's feed.
    const doubled = await send({ headers: ['content-type', 'application/json', 'authorization', `Bearer ${alice}`, 'authorization', `Bearer ${bob}`], body: JSON.stringify({ query: '{ personalizedFeed(first: 25) { edges { node { id } } } }' }) });
    const doubledIds = (doubled.json?.data?.personalizedFeed?.edges ?? []).map((e: { node: { id: string } }) => e.node.id);
    expect(doubledIds).not.toEqual(bobFeed);
  });
});
