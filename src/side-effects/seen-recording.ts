import type { SideEffect } from './side-effect';

/** Served means shown: a signed-in viewer's next fresh session leaves out the posts of the pages they were served. */
export const seenRecording: SideEffect = {
  name: 'seen-recording',
  on: 'served',
  timeoutMs: 10_000,
  async run({ viewer, edges }, { store }) {
    // While the store is degraded the write would fail at once: not attempting it keeps an outage's logs quiet.
    if (!viewer || edges.length === 0 || store.health().degraded) return;
    await store.viewers.addSeen(viewer.userId, edges.map((e) => e.postId));
  },
};
