/** Seen posts and blocked communities: one contract of the store, the in-process and the Redis implementation. */
import { Redis } from 'ioredis';
import { EmbeddedViewerState } from '../../src/store/embedded-viewers';
import { KeyLayout } from '../../src/store/keys';
import { RedisStore } from '../../src/store/redis';
import { gated, RedisViewerState, type RedisGate } from '../../src/store/redis-viewers';
import type { ViewerStateStore } from '../../src/store/store';
import { startRedisServer, type TestRedis } from '../helpers/redis-server';

let server: TestRedis;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

const limits = { maxSeen: 5, seenTtlSeconds: 60 };

/** The Redis store's seam: its connection, its key layout, and whether it is degraded (`down` says why). */
const gate = (prefix: string, down: { why: string | null } = { why: null }): RedisGate => ({
  redis: client,
  keys: new KeyLayout(prefix),
  call: (fn) => gated(() => down.why, fn),
});

describe.each([
  ['embedded', () => new EmbeddedViewerState(limits)],
  ['redis', () => new RedisViewerState(gate(`vs-${Math.random().toString(36).slice(2)}:`), limits)],
] as [string, () => ViewerStateStore][])('viewer state (%s)', (_kind, make) => {
  test('records seen posts per viewer, keeping the most recent maxSeen', async () => {
    const state = make();
    await state.addSeen('ann', ['a', 'b', 'c']);
    await state.addSeen('bob', ['z']);
    expect(await state.seen('ann')).toEqual(new Set(['a', 'b', 'c']));
    expect(await state.seen('bob')).toEqual(new Set(['z']));
    expect(await state.seen('nobody')).toEqual(new Set());
    await new Promise((r) => setTimeout(r, 5)); // later writes get later timestamps
    await state.addSeen('ann', ['d', 'e', 'f', 'g']);
    const seen = await state.seen('ann');
    expect(seen.size).toBe(5);
    for (const id of ['d', 'e', 'f', 'g']) expect(seen.has(id)).toBe(true);
  });

  test('blocked communities are a set per viewer', async () => {
    const state = make();
    await state.setBlockedCommunities('ann', ['pics', 'funny', 'pics']);
    expect((await state.blockedCommunities('ann')).sort()).toEqual(['funny', 'pics']);
    await state.setBlockedCommunities('ann', []);
    expect(await state.blockedCommunities('ann')).toEqual([]);
    expect(await state.blockedCommunities('someone')).toEqual([]);
  });

  test('any user id is safe as a key', async () => {
    const state = make();
    for (const id of ['*', '{x}', 'a\nb', 'é😀', 'x'.repeat(10_000)]) {
      await state.addSeen(id, ['p1']);
      expect(await state.seen(id)).toEqual(new Set(['p1']));
    }
  });
});

test('in Redis, seen sets expire and stay bounded', async () => {
  const prefix = 'vs-ttl:';
  const state = new RedisViewerState(gate(prefix), { maxSeen: 3, seenTtlSeconds: 30 });
  await state.addSeen('ann', ['a', 'b', 'c', 'd', 'e']);
  const keys = await client.keys(`${prefix}seen:*`);
  expect(keys).toHaveLength(1);
  expect(await client.zcard(keys[0]!)).toBe(3);
  const ttl = await client.ttl(keys[0]!);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(30);
  // The key carries a hash of the user id, never the id itself.
  expect(keys[0]).not.toContain('ann');
});

test('while the store is degraded, every call fails at once with SERVICE_UNAVAILABLE saying why, and nothing is written', async () => {
  const prefix = 'vs-degraded:';
  const down = { why: null as string | null };
  const state = new RedisViewerState(gate(prefix, down), limits);
  await state.addSeen('ann', ['a']);
  down.why = 'Redis is unavailable (test)';
  const unavailable = { code: 'SERVICE_UNAVAILABLE', reason: 'the store is degraded: Redis is unavailable (test)' };
  await expect(state.seen('ann')).rejects.toMatchObject(unavailable);
  await expect(state.blockedCommunities('ann')).rejects.toMatchObject(unavailable);
  await expect(state.addSeen('ann', ['b'])).rejects.toMatchObject(unavailable);
  await expect(state.setBlockedCommunities('ann', ['pics'])).rejects.toMatchObject(unavailable);
  down.why = null;
  expect(await state.seen('ann')).toEqual(new Set(['a']));
  expect(await state.blockedCommunities('ann')).toEqual([]);
});

test('a failing Redis command is SERVICE_UNAVAILABLE too, not an internal error', async () => {
  const broken = new RedisViewerState({ redis: client, keys: new KeyLayout('vs-broken:'), call: (fn) => gated(() => null, () => fn().then(() => Promise.reject(new Error('READONLY You can\'t write against a read only replica.')))) }, limits);
  await expect(broken.addSeen('ann', ['a'])).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: expect.stringMatching(/^Redis failed: READONLY/) });
});

test('a Redis store keeps viewer state under its own prefix, on its serving connection', async () => {
  const store = new RedisStore({ url: server.url, keyPrefix: 'vs-store:' });
  await store.connect();
  try {
    await store.viewers.addSeen('bob', ['p1', 'p2']);
    await store.viewers.setBlockedCommunities('bob', ['pics']);
    expect(await store.viewers.seen('bob')).toEqual(new Set(['p1', 'p2']));
    expect(await client.keys('vs-store:seen:*')).toHaveLength(1);
    expect(await client.keys('vs-store:blocked:*')).toHaveLength(1);
  } finally {
    await store.close();
  }
});

test('a Redis that does not answer fails viewer-state calls at the store command deadline, as SERVICE_UNAVAILABLE', async () => {
  const store = new RedisStore({ url: server.url, keyPrefix: 'vs-slow:', commandTimeoutMs: 100 });
  await store.connect();
  try {
    // Every client's commands wait while Redis is paused.
    await client.call('CLIENT', 'PAUSE', '600', 'ALL');
    const started = Date.now();
    await expect(store.viewers.seen('ann')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'Redis failed: no answer from Redis within 100 ms' });
    expect(Date.now() - started).toBeLessThan(450);
  } finally {
    await client.call('CLIENT', 'UNPAUSE');
    await store.close();
  }
});
