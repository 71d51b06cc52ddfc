/**
 * Per-item columns of the cached lists (scored lists, page snapshots) in a compact stored form: strings joined into
 * one, numbers as float64 bytes. A home feed's list has ~1,500 items; msgpack arrays of that many strings and floats
 * cost several times more to encode and decode than one string and one byte array, and are no more exact (the bytes
 * are the float64 values).
 */

/** Joins the per-item strings: post ids, community names and domains never hold a line feed (checked when joining). */
const SEP = '\n';

/** `values` joined into one string, or null when one of them holds the separator (store the array as it is then). */
export function joinColumn(values: readonly string[]): string | null {
  for (const v of values) if (v.includes(SEP)) return null;
  return values.join(SEP);
}

/** The strings of a joined column of `count` items (an empty column joins to "", which is not one empty item). */
export function splitColumn(joined: string, count: number): string[] {
  return count === 0 ? [] : joined.split(SEP);
}

/** Numbers as their float64 bytes. */
export function floatBytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}

/** The numbers of `floatBytes`. */
export function floatsOf(bytes: Uint8Array): number[] {
  // Copied: decoded bytes may sit at an offset a Float64Array cannot start at.
  return Array.from(new Float64Array(Uint8Array.from(bytes).buffer));
}
