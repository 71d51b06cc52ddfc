/**
 * The seeded random streams the synthetic corpus is drawn from, and the small numeric helpers its draws share.
 * Every draw goes through these, so the order of calls into a stream is part of the corpus: keep it when refactoring.
 */
import { createHash } from 'node:crypto';

/** mulberry32: tiny, fast, and good enough for test data; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Independent streams per purpose, so that e.g. changing how titles are drawn does not reshuffle communities. */
export function streamSeed(seed: number, stream: string): number {
  const digest = createHash('sha256').update(`${seed}/${stream}`).digest();
  return digest.readUInt32LE(0);
}

export function gaussian(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
