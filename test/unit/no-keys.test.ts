/**
 * KEYS blocks Redis for as long as it walks the whole keyspace: the gateway never sends it. Content is removed with
 * SCAN (src/store/redis.ts) and snapshots are invalidated by versioned keys. Tests may use KEYS; src/ may not.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('nothing in src/ sends the KEYS command', () => {
  const offenders: string[] = [];
  for (const file of sources(path.resolve(__dirname, '../../src'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // A client's keys(pattern) or keysBuffer(pattern), or KEYS sent by name (call/sendCommand/new Command).
        const code = line.replace(/\/\/.*$/, '').replace(/\bObject\.keys\(/g, '');
        if (/\.keys(Buffer)?\(\s*[^)\s]/.test(code) || /(['"])keys\1/i.test(code)) offenders.push(`${path.relative(process.cwd(), file)}:${i + 1}: ${line.trim()}`);
      });
  }
  expect(offenders).toEqual([]);
});
