/**
 * The layering of src/ and resolvers/ (.dependency-cruiser.cjs, run by `.ci/run` as `npm run lint:deps`): the real
 * tree passes, and a tree with a cycle, an upward import or Redis outside the store fails, naming each.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');

function cruise(cwd: string): { status: number | null; output: string } {
  const r = spawnSync(DEPCRUISE, ['src', 'resolvers', '--config', '.dependency-cruiser.cjs'], { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('the repository keeps its layers', () => {
  const { status, output } = cruise(ROOT);
  expect(output).toMatch(/no dependency violations found/);
  expect(status).toBe(0);
});

describe('a tree that breaks them fails', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rg-layers-'));
    cpSync(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
    cpSync(path.join(ROOT, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
    // ioredis must resolve for the rule about it to see it.
    cpSync(path.join(ROOT, 'node_modules/ioredis'), path.join(dir, 'node_modules/ioredis'), { recursive: true });
    const files: Record<string, string> = {
      // The store reads a pipeline constant (upward), the pipeline reads the store (down): a cycle through both.
      'src/store/store.ts': "import { LIMIT } from '../pipeline/feeds';\nexport const size = LIMIT;\n",
      'src/pipeline/feeds.ts': "import { size } from '../store/store';\nexport const LIMIT = 3;\nexport const twice = () => size * 2;\n",
      // A stage that talks to Redis itself.
      'src/candidates/direct.ts': "import { Redis } from 'ioredis';\nexport const client = () => new Redis();\n",
      'resolvers/index.ts': 'export const resolvers = {};\n',
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('naming the cycle, the upward import and Redis outside the store', () => {
    const { status, output } = cruise(dir);
    expect(status).not.toBe(0);
    expect(output).toMatch(/no-circular: src\/(store\/store|pipeline\/feeds)\.ts/);
    expect(output).toMatch(/no-upward-import-from-store: src\/store\/store\.ts → src\/pipeline\/feeds\.ts/);
    expect(output).toMatch(/ioredis-only-in-the-store: src\/candidates\/direct\.ts → node_modules\/ioredis\//);
  });
});
