import { createHash } from 'node:crypto';
import type { ExperimentConfig } from './registry';

export interface ExperimentAssignment {
  readonly experiment: string;
  /** The arm's name, reported as `rankedBy.bucket`. */
  readonly arm: string;
  readonly ranker: string;
}

/**
 * A viewer's arm in an experiment: a hash of the experiment's salt and the user id, mapped onto the arms' weights.
 * Deterministic (the same viewer always lands in the same arm until the salt changes) and independent across
 * experiments with different salts.
 */
export function assignArm(experiment: ExperimentConfig, userId: string): ExperimentAssignment {
  const h = createHash('sha256').update(`${experiment.salt}\u0000${userId}`).digest();
  // 48 bits of the hash as a uniform fraction in [0, 1).
  const u = (h.readUInt32BE(0) * 65536 + h.readUInt16BE(4)) / 2 ** 48;
  const total = experiment.arms.reduce((s, a) => s + a.weight, 0);
  let point = u * total;
  for (const arm of experiment.arms) {
    if (point < arm.weight) return { experiment: experiment.id, arm: arm.name, ranker: arm.ranker };
    point -= arm.weight;
  }
  const last = experiment.arms[experiment.arms.length - 1]!;
  return { experiment: experiment.id, arm: last.name, ranker: last.ranker };
}

/** The first experiment running on `feed`, if any, and the viewer's arm in it. Signed-out requests are in none. */
export function experimentFor(experiments: readonly ExperimentConfig[], feed: string, userId: string | null): ExperimentAssignment | null {
  if (userId === null) return null;
  const e = experiments.find((x) => x.feed === feed);
  return e ? assignArm(e, userId) : null;
}
