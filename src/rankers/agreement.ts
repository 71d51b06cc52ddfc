/** Ways of saying how much two rankings of the same items agree. */

/** Indices 0..n-1 ordered by score, highest first (ties by index, so the order is deterministic). */
export function orderByScore(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Share of the first `k` of `a` that are also among the first `k` of `b` (1 = same top k as sets). */
export function overlapAtK<T>(a: readonly T[], b: readonly T[], k: number): number {
  const n = Math.min(k, a.length, b.length);
  if (n === 0) return 1;
  const top = new Set(b.slice(0, n));
  let shared = 0;
  for (const x of a.slice(0, n)) if (top.has(x)) shared++;
  return shared / n;
}

/**
 * Kendall's tau-b between two score vectors over the same items: +1 same order, -1 reversed, ties corrected for.
 * O(n²) pairs: fine for the ≤ a few thousand candidates of one request.
 */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = Math.min(x.length, y.length);
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tiesX++;
      else if (dy === 0) tiesY++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesX) * (concordant + discordant + tiesY));
  return denom === 0 ? 1 : (concordant - discordant) / denom;
}
