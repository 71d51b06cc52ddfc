import type { FeatureLogStore } from '../store/store';

const encodeValue = (v: number) => (Number.isNaN(v) ? '' : String(v));

/**
 * Training rows as `npm run train`'s script reads them: `label,group,<features...>`, one group per request. The
 * label is 0: the gateway sees no clicks; join the client's click log on (request, position) to fill it in.
 * Columns after the features start with "_" (the training script skips them): _request, _position, _post, _ranker,
 * _version, _score.
 */
export async function exportFeatureLog(log: FeatureLogStore, write: (line: string) => void): Promise<number> {
  let cursor: string | null = null;
  let header: string[] | null = null;
  let n = 0;
  for (;;) {
    const { entries, next } = await log.read(cursor, 1000);
    for (const e of entries) {
      if (!header) {
        header = [...e.features];
        write(`label,group,${header.join(',')},_request,_position,_post,_ranker,_version,_score\n`);
      }
      // Entries logged under another feature list are mapped by name; features they lack are missing.
      const byName = new Map(e.features.map((f, i) => [f, e.values[i] ?? NaN]));
      const values = header.map((f) => encodeValue(byName.get(f) ?? NaN));
      write(`0,${e.requestId},${values.join(',')},${e.requestId},${e.position},${e.postId},${e.ranker},${e.rankerVersion},${e.score}\n`);
      n++;
    }
    if (next === null) break;
    cursor = next;
  }
  return n;
}
