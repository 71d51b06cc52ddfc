import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, DEVELOPMENT_JWT_SECRET, loadConfig, NODE_FLAGS, repoRoot } from '../../src/config';

describe('configuration', () => {
  test('defaults: port 4000 on loopback, embedded store, synthetic data, development secret', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 4000, redisUrl: null, datasetDir: null, jwtSecret: DEVELOPMENT_JWT_SECRET, jwtSecretIsDefault: true, snapshotTtlSeconds: 300 });
  });

  test('production refuses to start without JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: required when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'k'.repeat(32) }).jwtSecretIsDefault).toBe(false);
    // The development secret is public: production refuses it even when set explicitly.
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(/development secret is refused/);
  });

  test.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT must be at most 65535/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must start with redis:\/\//],
    [{ SNAPSHOT_TTL_SECONDS: '0' }, /SNAPSHOT_TTL_SECONDS must be at least 1/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET must be at least 32 characters/],
    [{ SEED_ON_START: 'maybe' }, /SEED_ON_START must be true or false/],
  ])('a bad value (%j) fails naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ REDIS_URL: '', PORT: '' })).toMatchObject({ redisUrl: null, port: 4000 });
  });

  test('npm start and the Dockerfile start the gateway with NODE_FLAGS, in front of the entry point', () => {
    expect(NODE_FLAGS.length).toBeGreaterThan(0);
    const start = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toBe(['node', ...NODE_FLAGS, 'dist/src/main.js'].join(' '));
    const cmd = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('CMD '))
      .pop()!;
    expect(JSON.parse(cmd.slice(4))).toEqual(['node', ...NODE_FLAGS, 'dist/src/main.js']);
  });
});
