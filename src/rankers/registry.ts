import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { featureDefinition } from '../features/registry';
import { createHotRanker } from './hot';
import { createLinearBlendRanker } from './linear-blend';
import { createNewRanker } from './new';
import type { Ranker, RankerFactory, RankerFactoryContext, RankerSpec } from './ranker';
import { createTopRanker } from './top';

/**
 * Ranker kinds by name. To add a kind: write `src/rankers/<kind>.ts` exporting a `RankerFactory` (copy `top.ts`),
 * add it here, and add a variant using it to models/rankers.json.
 */
export const RANKER_KINDS: Readonly<Record<string, RankerFactory>> = {
  hot: createHotRanker,
  new: createNewRanker,
  top: createTopRanker,
  'linear-blend': createLinearBlendRanker,
};

const RankerFile = z.object({
  rankers: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'ranker ids are lower case letters, digits, - and _'),
        kind: z.string(),
        version: z.string().min(1),
        description: z.string().min(1),
        params: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .min(1),
});

export class RankerRegistry {
  private readonly byId: ReadonlyMap<string, Ranker>;

  constructor(rankers: readonly Ranker[]) {
    const map = new Map<string, Ranker>();
    for (const r of rankers) {
      if (map.has(r.id)) throw new Error(`duplicate ranker id "${r.id}"`);
      for (const f of r.features) if (!featureDefinition(f)) throw new Error(`ranker "${r.id}" needs unknown feature "${f}"`);
      map.set(r.id, r);
    }
    this.byId = map;
  }

  get(id: string): Ranker | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  list(): Ranker[] {
    return [...this.byId.values()];
  }
}

/**
 * Builds rankers from specs, in file order (a `cascade` may refer to variants listed before it); an unknown kind or
 * bad parameters fail with the variant's id in the message.
 */
export async function createRankers(specs: readonly RankerSpec[], baseDir = process.cwd()): Promise<RankerRegistry> {
  const built = new Map<string, Ranker>();
  const ctx: RankerFactoryContext = { resolvePath: (p) => path.resolve(baseDir, p), ranker: (id) => built.get(id) };
  for (const s of specs) {
    const factory = RANKER_KINDS[s.kind];
    if (!factory) throw new Error(`ranker "${s.id}": unknown kind "${s.kind}" (known: ${Object.keys(RANKER_KINDS).join(', ')})`);
    if (built.has(s.id)) throw new Error(`duplicate ranker id "${s.id}"`);
    built.set(s.id, await factory(s, ctx));
  }
  return new RankerRegistry([...built.values()]);
}

/** Reads the ranker configuration file (models/rankers.json by default); model paths are relative to its folder. */
export async function loadRankerFile(file: string): Promise<RankerRegistry> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ranker configuration ${file}: ${(err as Error).message}`);
  }
  const parsed = RankerFile.safeParse(json);
  if (!parsed.success) {
    throw new Error(`invalid ranker configuration ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return createRankers(parsed.data.rankers, path.dirname(file));
}
