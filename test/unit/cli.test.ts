/**
 * The built CLI (dist/src/cli.js, what `npm run cli` runs) as a child process: usage on request and on misuse, and
 * the expiry of the tokens it signs. `npm test` builds dist/ before jest runs.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TokenService } from '../../src/auth/tokens';
import { loadConfig } from '../../src/config';

const CLI = path.resolve(__dirname, '../../dist/src/cli.js');

/** Runs the CLI with a small, fixed environment: no JWT_SECRET, so it signs with the development secret. */
function cli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** The JWT's payload, decoded without verifying (the verifying tests use TokenService). */
function payloadOf(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  expect(parts).toHaveLength(3);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Signs a token with these arguments and returns it: exactly one line on stdout, nothing on stderr, exit 0. */
function token(...args: string[]): string {
  const r = cli('token', ...args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines).toHaveLength(2); // the token and the empty string after its newline
  expect(lines[1]).toBe('');
  return lines[0]!;
}

const tokens = new TokenService(loadConfig({ NODE_ENV: 'test' }).jwtSecret);

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
});

describe('usage', () => {
  test.each([['--help'], ['-h'], ['help']])('%s prints the usage to stdout and exits 0', (flag) => {
    const r = cli(flag);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage:\n/);
    expect(r.stdout).toContain('token --user ID');
    expect(r.stdout).toContain('export-log --out FILE.csv');
    // The usage says what a token's expiry is when --expires is not given.
    expect(r.stdout).toMatch(/valid for 24h unless --expires/);
  });

  test('an unknown command prints the usage to stderr and exits 2', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^unknown command "frobnicate"\nusage:\n/);
    expect(r.stderr).toContain('token --user ID');
  });

  test('no command prints the usage to stderr and exits 2', () => {
    const r = cli();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^no command given\nusage:\n/);
  });
});

describe('cli token', () => {
  test('expires in 24 hours by default', async () => {
    const before = Math.floor(Date.now() / 1000);
    const jwt = token('--user', 'alice');
    const after = Math.ceil(Date.now() / 1000);
    const p = payloadOf(jwt);
    expect(p.sub).toBe('alice');
    expect(typeof p.iat).toBe('number');
    expect(typeof p.exp).toBe('number');
    expect((p.exp as number) - (p.iat as number)).toBe(86_400);
    expect(p.iat as number).toBeGreaterThanOrEqual(before);
    expect(p.iat as number).toBeLessThanOrEqual(after);
    // Signed with the development secret, and the gateway reads the same expiry.
    await expect(tokens.verify(jwt)).resolves.toEqual({ userId: 'alice', roles: [], expiresAt: (p.exp as number) * 1000 });
  });

  test('--expires changes the expiry (jose time spans)', () => {
    const hour = payloadOf(token('--user', 'alice', '--expires', '1h'));
    expect((hour.exp as number) - (hour.iat as number)).toBe(3_600);
    const week = payloadOf(token('--user', 'alice', '--expires', '7d'));
    expect((week.exp as number) - (week.iat as number)).toBe(7 * 86_400);
  });

  test('--expires never signs a token without exp; roles are kept', async () => {
    const jwt = token('--user', 'bob', '--role', 'mle', '--expires', 'never');
    const p = payloadOf(jwt);
    expect(p).not.toHaveProperty('exp');
    expect(typeof p.iat).toBe('number');
    await expect(tokens.verify(jwt)).resolves.toEqual({ userId: 'bob', roles: ['mle'], expiresAt: null });
  });

  test('an --expires that is not a time span is a usage error (exit 2), not a token', () => {
    const r = cli('token', '--user', 'alice', '--expires', '3600');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^--expires "3600" is not a time span/);
    expect(r.stderr).toContain('usage:');
  });

  test('without --user says how to use it and exits 2', () => {
    const r = cli('token');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^token needs --user ID\nusage:\n/);
  });
});
