import type { RankedBy } from '../src/feed/page';
import type { GatewayContext } from './context';
import type { RankerView } from './parents';
import type { Ranker } from '../src/rankers/ranker';
import type { Variant } from '../src/rankers/registry';

export function variantView(v: Variant): RankerView {
  return {
    id: v.id,
    version: v.ranker?.version ?? v.config.version ?? null,
    description: v.config.description,
    features: v.ranker?.features ?? [],
    kind: v.kind,
    public: v.config.public,
    status: v.status,
    loadedAt: v.loadedAt,
    lastError: v.lastError,
    fallback: v.config.fallback ?? null,
    shadows: v.config.shadows,
    experiment: null,
    bucket: null,
    fallbackFrom: null,
    fallbackReason: null,
  };
}

export function rankerView(r: Pick<Ranker, 'id' | 'version' | 'description' | 'features'>, ctx: GatewayContext): RankerView {
  const v = ctx.rankers.variant(r.id);
  if (v) return { ...variantView(v), version: r.version, description: r.description, features: r.features };
  return {
    id: r.id,
    version: r.version,
    description: r.description,
    features: r.features,
    kind: null,
    public: true,
    status: 'VIRTUAL',
    loadedAt: null,
    lastError: null,
    fallback: null,
    shadows: [],
    experiment: null,
    bucket: null,
    fallbackFrom: null,
    fallbackReason: null,
  };
}

export function rankedByView(r: RankedBy, ctx: GatewayContext): RankerView {
  return {
    ...rankerView(r.ranker, ctx),
    experiment: r.experiment?.experiment ?? null,
    bucket: r.experiment?.arm ?? null,
    fallbackFrom: r.fallbackFrom,
    fallbackReason: r.fallbackReason,
  };
}
