/** Words too common to say two titles are about the same thing. */
const STOPWORDS = new Set(
  ('the and for are but not you all any can had her was one our out day get has him his how man new now old see two way who ' +
    'boy did its let put say she too use this that with from they have what when your just like been were will than them then ' +
    'there their about would could should after before into over some more most only very also here where which while being ' +
    'because these those through until again once ever every much many other such own same each few off via why yes got')
    .split(' '),
);

/**
 * Tokens of a title for the similar-titles index: lower case, letters and digits only, at least 3 characters, no
 * stop words, each once. Used both when the index is built and when a post context is looked up, so the two agree.
 */
export function titleTokens(title: string): string[] {
  const out = new Set<string>();
  for (const raw of title.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length >= 3 && raw.length <= 40 && !STOPWORDS.has(raw)) out.add(raw);
  }
  return [...out];
}

/** Jaccard similarity of two token sets: |A ∩ B| / |A ∪ B|, 0 when both are empty. */
export function jaccard(a: ReadonlySet<string>, b: readonly string[]): number {
  if (a.size === 0 && b.length === 0) return 0;
  let shared = 0;
  for (const t of b) if (a.has(t)) shared++;
  return shared / (a.size + b.length - shared);
}
