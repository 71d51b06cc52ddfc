import { LRUCache } from 'lru-cache';
import type { Community } from '../content';
import type { Store } from '../store/store';
import { deriveViewerProfile, type ViewerProfile } from './viewers';

/**
 * Viewer profiles for the whole process: derived on first use from the user id and the community list, then kept in
 * a bounded LRU (a profile is a pure function of its inputs, so a cached one is never stale for the same corpus).
 */
export class ViewerProfiles {
  private readonly cache = new LRUCache<string, ViewerProfile>({ max: 50_000 });
  private communities: Promise<Community[]> | null = null;
  private fingerprint: string | null = null;

  constructor(private readonly store: Store) {}

  /** Same length and order as `userIds`. */
  async getMany(userIds: readonly string[]): Promise<ViewerProfile[]> {
    const communities = await this.communityList();
    return userIds.map((id) => {
      let p = this.cache.get(id);
      if (!p) this.cache.set(id, (p = deriveViewerProfile(id, communities)));
      return p;
    });
  }

  private async communityList(): Promise<Community[]> {
    // Profiles depend on the corpus' communities: a reseed with other content derives them anew.
    const info = await this.store.datasetInfo();
    const fp = info?.fingerprint ?? null;
    if (!this.communities || fp !== this.fingerprint) {
      this.fingerprint = fp;
      this.cache.clear();
      this.communities = this.store.listCommunities();
      this.communities.catch(() => (this.communities = null));
    }
    return this.communities;
  }
}
