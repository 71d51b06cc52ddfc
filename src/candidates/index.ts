import { communitySource } from './community';
import { popularSource } from './popular';
import { sameCommunitySource } from './same-community';
import { similarTitlesSource } from './similar-titles';
import type { CandidateSource } from './source';
import { subscriptionsSource } from './subscriptions';

/** Candidate sources by name, as feed pipelines refer to them. */
export const CANDIDATE_SOURCES: Readonly<Record<string, CandidateSource>> = Object.fromEntries(
  [
    subscriptionsSource,
    popularSource,
    communitySource,
    sameCommunitySource,
    similarTitlesSource,
  ].map((s) => [s.name, s]),
);

export type { CandidateSource } from './source';
