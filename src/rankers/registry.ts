import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { featureDefinition } from '../features/registry';
import type { Logger } from '../telemetry/logger';
import { createCascadeRanker } from './cascade';
import { createHotRanker } from './hot';
import { createLinearRanker } from './linear';
import { createNewRanker } from './new';
import { createOnnxRanker } from './onnx';
import type { Ranker, RankerFactory, RankerFactoryContext, RankerSpec } from './ranker';
import { createRemoteRanker } from './remote';
import { createTopRanker } from './top';
import { createXgboostRanker } from './xgboost';

/**
 * Ranker kinds by name. To add a kind: write `src/rankers/<kind>.ts` exporting a `RankerFactory` (copy `top.ts`),
 * add it here, and add a variant using it to models/rankers.json.
 */
export const RANKER_KINDS: Readonly<Record<string, RankerFactory>> = {
  hot: createHotRanker,
  new: createNewRanker,
  top: createTopRanker,
  linear: createLinearRanker,
  cascade: createCascadeRanker,
  onnx: createOnnxRanker,
  remote: createRemoteRanker,
  xgboost: createXgboostRanker,
};

const ID = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'ids are lower case letters, digits, - and _ (at most 64)');

const VariantSchema = z.object({
  id: ID,
  kind: z.string(),
  /** Optional: model kinds derive a version from the model file's content. */
  version: z.string().min(1).optional(),
  description: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
  /** Public variants may be requested by anyone; others need the `mle` role. */
  public: z.boolean().default(true),
  /** Serves instead when this variant fails or misses its deadline. */
  fallback: ID.optional(),
  /** Scored on the same candidates off the response path; agreement is recorded as metrics. */
  shadows: z.array(ID).default([]),
  /** Deadline for one scoring call; past it the fallback serves (when there is one). */
  timeoutMs: z.number().int().min(1).max(60_000).optional(),
});

const ExperimentSchema = z.object({
  id: ID,
  /** Which feed it applies to (a name of src/pipeline/feeds.ts), when the request names no ranker. */
  feed: ID,
  /** Changing the salt reshuffles every viewer's assignment. */
  salt: z.string().min(1),
  arms: z
    .array(z.object({ name: ID, ranker: ID, weight: z.number().positive() }))
    .min(1),
});

const RankerFileSchema = z.object({
  rankers: z.array(VariantSchema).min(1),
  experiments: z.array(ExperimentSchema).default([]),
});

export type VariantConfig = z.infer<typeof VariantSchema>;
export type ExperimentConfig = z.infer<typeof ExperimentSchema>;

/** A variant's load state, as `rankers` reports it. */
export type VariantStatus = 'LOADED' | 'STALE' | 'FAILED';

/** One configured variant: its configuration and the ranker serving it (if any version ever loaded). */
export interface Variant {
  readonly id: string;
  readonly kind: string;
  readonly config: VariantConfig;
  /** The version serving now; null when no version of this variant ever loaded. */
  readonly ranker: Ranker | null;
  /** LOADED: the configured version serves. STALE: a newer configuration failed, the previous version serves. FAILED: nothing serves. */
  readonly status: VariantStatus;
  /** When the serving version was loaded. */
  readonly loadedAt: Date | null;
  /** Why the latest attempt to load this variant failed, if it did. */
  readonly lastError: string | null;
  /** What the serving version was built from (configuration and model files): unchanged input is not rebuilt. */
  readonly fingerprint: string | null;
}

/**
 * The live set of ranker variants and experiments, loaded from the configuration file and reloaded when it or a
 * model file beside it changes. A variant that fails to load never replaces the version serving: the old one keeps
 * serving, the error is kept and logged, and `rankers` shows it.
 */
export class RankerRegistry {
  private variants = new Map<string, Variant>();
  private experimentList: ExperimentConfig[] = [];
  private watcher: FSWatcher | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> = Promise.resolve();
  /** Errors of the file as a whole (unreadable, invalid JSON): the previous configuration keeps serving. */
  private fileError: string | null = null;
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly file: string | null,
    private readonly logger: Logger | null,
  ) {}

  /** Loads a configuration file. A file that cannot be read or parsed at start-up is an error; a bad variant is not. */
  static async fromFile(file: string, logger: Logger | null = null): Promise<RankerRegistry> {
    const registry = new RankerRegistry(file, logger);
    const parsed = readConfigFile(file);
    await registry.apply(parsed, path.dirname(file));
    return registry;
  }

  /** A registry of fixed specs (tests, tools); every variant must load. */
  static async fromSpecs(rankers: readonly z.input<typeof VariantSchema>[], baseDir = process.cwd(), experiments: z.input<typeof ExperimentSchema>[] = []): Promise<RankerRegistry> {
    const parsed = RankerFileSchema.safeParse({ rankers, experiments });
    if (!parsed.success) throw new Error(formatIssues('ranker specs', parsed.error));
    const registry = new RankerRegistry(null, null);
    await registry.apply(parsed.data, baseDir);
    const failed = [...registry.variants.values()].find((v) => v.status === 'FAILED');
    if (failed) throw new Error(failed.lastError ?? `ranker "${failed.id}" failed to load`);
    return registry;
  }

  /** The variant, serving or not. */
  variant(id: string): Variant | undefined {
    return this.variants.get(id);
  }

  /** The ranker serving `id`, if any version of it loaded. */
  get(id: string): Ranker | undefined {
    return this.variants.get(id)?.ranker ?? undefined;
  }

  /** Ids of the variants that can serve. */
  ids(): string[] {
    return [...this.variants.values()].filter((v) => v.ranker).map((v) => v.id);
  }

  /** Every configured variant, in file order. */
  list(): Variant[] {
    return [...this.variants.values()];
  }

  experiments(): readonly ExperimentConfig[] {
    return this.experimentList;
  }

  /** The file-level error of the latest reload, if the file itself was rejected. */
  configurationError(): string | null {
    return this.fileError;
  }

  /** Called after every reload (tests wait on it). */
  onReload(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the configuration file and rebuilds what changed. Never throws: failures are recorded. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      if (!this.file) return;
      try {
        const parsed = readConfigFile(this.file);
        this.fileError = null;
        await this.apply(parsed, path.dirname(this.file));
      } catch (err) {
        const message = (err as Error).message;
        this.fileError = message;
        this.logger?.error({ file: this.file, err: message }, 'ranker configuration rejected; the previous configuration keeps serving');
        // Every variant keeps its serving version, and says why its configuration was not applied.
        for (const [id, v] of this.variants) this.variants.set(id, { ...v, status: v.ranker ? 'STALE' : 'FAILED', lastError: message });
      }
      for (const l of this.listeners) l();
    });
    return this.reloading;
  }

  /**
   * Watches the configuration file's folder: an edited configuration or a new or changed model file is picked up
   * while running. Events are debounced, since editors and copies write a file in several steps.
   */
  watch(debounceMs = 150): void {
    if (!this.file || this.watcher) return;
    this.watcher = watch(path.dirname(this.file), { persistent: false }, () => {
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), debounceMs);
    });
    this.watcher.on('error', (err) => this.logger?.error({ err: err.message }, 'ranker configuration watch failed'));
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    await this.reloading;
    await Promise.all([...this.variants.values()].map((v) => v.ranker?.close?.()));
  }

  /**
   * Builds the variants of a parsed configuration, in file order, reusing every variant whose fingerprint did not
   * change. A variant that fails keeps its previous version (STALE) or has none (FAILED).
   */
  private async apply(config: z.infer<typeof RankerFileSchema>, baseDir: string): Promise<void> {
    const next = new Map<string, Variant>();
    const retired: Ranker[] = [];
    const ctx: RankerFactoryContext = {
      resolvePath: (p) => path.resolve(baseDir, p),
      ranker: (id) => next.get(id)?.ranker ?? undefined,
    };
    for (const cfg of config.rankers) {
      const previous = this.variants.get(cfg.id);
      if (next.has(cfg.id)) {
        next.set(cfg.id, failed(cfg, previous, `duplicate ranker id "${cfg.id}"`));
        continue;
      }
      let fingerprint: string;
      try {
        // Dependencies' fingerprints are part of a cascade's, so it is rebuilt when a stage it uses changes.
        const deps = dependencies(cfg).map((d) => next.get(d)?.fingerprint ?? 'missing');
        fingerprint = variantFingerprint(cfg, baseDir, deps);
      } catch (err) {
        next.set(cfg.id, failed(cfg, previous, `ranker "${cfg.id}": ${(err as Error).message}`));
        continue;
      }
      if (previous?.ranker && previous.fingerprint === fingerprint) {
        next.set(cfg.id, { ...previous, config: cfg, status: 'LOADED', lastError: null });
        continue;
      }
      try {
        const factory = RANKER_KINDS[cfg.kind];
        if (!factory) throw new Error(`unknown kind "${cfg.kind}" (known: ${Object.keys(RANKER_KINDS).join(', ')})`);
        const spec: RankerSpec = { id: cfg.id, kind: cfg.kind, version: cfg.version ?? '', description: cfg.description, params: cfg.params };
        const ranker = await factory(spec, ctx);
        for (const f of ranker.features) if (!featureDefinition(f)) throw new Error(`needs unknown feature "${f}"`);
        if (ranker.id !== cfg.id) throw new Error(`built a ranker with id "${ranker.id}"`);
        if (!ranker.version) throw new Error('has no version (set "version")');
        next.set(cfg.id, { id: cfg.id, kind: cfg.kind, config: cfg, ranker, status: 'LOADED', loadedAt: new Date(), lastError: null, fingerprint });
        if (previous?.ranker) retired.push(previous.ranker);
        if (previous) this.logger?.info({ ranker: cfg.id, version: ranker.version }, 'ranker variant reloaded');
      } catch (err) {
        const raw = (err as Error).message;
        const message = raw.startsWith(`ranker "${cfg.id}"`) ? raw : `ranker "${cfg.id}": ${raw}`;
        this.logger?.error({ ranker: cfg.id, err: message }, 'ranker variant failed to load; the previous version (if any) keeps serving');
        next.set(cfg.id, failed(cfg, previous, message));
      }
    }
    // References to other variants are checked once all are built.
    for (const v of next.values()) {
      for (const ref of [v.config.fallback, ...v.config.shadows]) {
        if (ref && !next.get(ref)?.ranker) {
          const message = `ranker "${v.id}": refers to "${ref}", which is not a loaded variant`;
          next.set(v.id, { ...v, lastError: v.lastError ?? message });
        }
      }
    }
    const experiments: ExperimentConfig[] = [];
    for (const e of config.experiments) {
      const missing = e.arms.find((a) => !next.get(a.ranker)?.ranker);
      if (missing) {
        this.logger?.error({ experiment: e.id, ranker: missing.ranker }, 'experiment refers to a variant that does not serve; experiment disabled');
        continue;
      }
      experiments.push(e);
    }
    for (const [id, v] of this.variants) if (!next.has(id) && v.ranker) retired.push(v.ranker);
    this.variants = next;
    this.experimentList = experiments;
    // Retired versions may still be scoring a request that started before the swap: close them a little later.
    if (retired.length > 0) setTimeout(() => void Promise.all(retired.map((r) => r.close?.())).catch(() => {}), 30_000).unref();
  }
}

function failed(cfg: VariantConfig, previous: Variant | undefined, message: string): Variant {
  if (previous?.ranker) return { ...previous, config: previous.config, status: 'STALE', lastError: message };
  return { id: cfg.id, kind: cfg.kind, config: cfg, ranker: null, status: 'FAILED', loadedAt: null, lastError: message, fingerprint: null };
}

/** Variants a variant is built from (a cascade's stages), which must come before it in the file. */
function dependencies(cfg: VariantConfig): string[] {
  if (cfg.kind !== 'cascade') return [];
  return [cfg.params.light, cfg.params.heavy].filter((x): x is string => typeof x === 'string');
}

/** The configuration entry plus the content of every file its parameters name: what decides a rebuild. */
function variantFingerprint(cfg: VariantConfig, baseDir: string, deps: string[]): string {
  const hash = createHash('sha256').update(JSON.stringify(cfg)).update(JSON.stringify(deps));
  for (const value of Object.values(cfg.params)) {
    if (typeof value !== 'string' || value.length > 1024) continue;
    const p = path.resolve(baseDir, value);
    if (existsSync(p) && statSync(p).isFile()) hash.update(readFileSync(p));
  }
  return hash.digest('hex');
}

function readConfigFile(file: string): z.infer<typeof RankerFileSchema> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ranker configuration ${file}: ${(err as Error).message}`);
  }
  const parsed = RankerFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(formatIssues(`invalid ranker configuration ${file}`, parsed.error));
  return parsed.data;
}

function formatIssues(what: string, error: z.ZodError): string {
  return `${what}: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
}

/** Builds a registry of fixed specs (see RankerRegistry.fromSpecs). */
export const createRankers = (specs: readonly z.input<typeof VariantSchema>[], baseDir?: string) => RankerRegistry.fromSpecs(specs, baseDir);

/** Loads a configuration file (see RankerRegistry.fromFile). */
export const loadRankerFile = (file: string, logger?: Logger) => RankerRegistry.fromFile(file, logger ?? null);
