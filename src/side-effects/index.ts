import { featureLog } from './feature-log';
import { seenRecording } from './seen-recording';
import { shadowScoring } from './shadow-scoring';
import type { SideEffect } from './side-effect';

/** Side effects by name, as feed pipelines refer to them. */
export const SIDE_EFFECTS: Readonly<Record<string, SideEffect>> = Object.fromEntries(
  [
    shadowScoring,
    featureLog,
    seenRecording,
  ].map((e): [string, SideEffect] => [e.name, e]),
);

export type { ScoredEvent, ServedEdge, ServedEvent, SideEffect, SideEffectDeps } from './side-effect';
