/** Seen posts and blocked communities: one contract, the in-process and the Redis implementation. */
import { Redis } from 'ioredis';
import { EmbeddedViewerState, RedisViewerState, type ViewerState } from '../../src/filters/viewer-state';
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

describe.each([
  ['embedded', () => new EmbeddedViewerState(limits)],
  ['redis', () => new RedisViewerState(client, `vs-${Math.random().toString(36).slice(2)}:`, limits)],
] as [string, () => ViewerState][])('viewer state (%s)', (_kind, make) => {
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
  const state = new RedisViewerState(client, prefix, { maxSeen: 3, seenTtlSeconds: 30 });
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
