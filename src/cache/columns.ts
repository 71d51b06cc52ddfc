/**
 * Per-item columns of the cached lists (scored lists, page snapshots) in a compact stored form: strings joined into
 * one, repeated strings as a dictionary and a code per item, numbers as float64 bytes. A home feed's list has about a
 * thousand items; a msgpack array of them encodes and decodes every element on its own (a type header each, and on
 * reading a JS string or number each), where one string and one byte array are one value each; the arrays would be
 * no more exact (the bytes are the float64 values).
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

/**
 * Strings that repeat (a list's communities and domains: a few dozen distinct among about a thousand items) as the
 * distinct names and one 16-bit code per item (32-bit for lists of 65,535 items or more), 0 standing for null.
 * Building it is a map look-up per item; msgpack then writes the names once and the codes as bytes, where a joined
 * column would repeat every name once per item, a far longer string to join and encode.
 */
export function codeColumn(values: readonly (string | null)[]): [names: string[], codes: Uint8Array] {
  const numbers = new Map<string, number>();
  const names: string[] = [];
  const codes = values.length < 0xffff ? new Uint16Array(values.length) : new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    let c = numbers.get(v);
    if (c === undefined) numbers.set(v, (c = names.push(v)));
    codes[i] = c;
  }
  return [names, new Uint8Array(codes.buffer)];
}

/** The values of a `codeColumn` of `count` items, or null when the bytes do not hold one (a corrupt entry). */
export function valuesOfCodes(names: readonly string[], bytes: Uint8Array, count: number): (string | null)[] | null {
  if (!Array.isArray(names) || !(bytes instanceof Uint8Array) || bytes.byteLength !== count * (count < 0xffff ? 2 : 4)) return null;
  // Copied: decoded bytes may sit at an offset a Uint16Array cannot start at.
  const copy = Uint8Array.from(bytes).buffer;
  const codes = count < 0xffff ? new Uint16Array(copy) : new Uint32Array(copy);
  const out = new Array<string | null>(count);
  for (let i = 0; i < count; i++) {
    const c = codes[i]!;
    if (c === 0) out[i] = null;
    else {
      const name = names[c - 1];
      if (typeof name !== 'string') return null;
      out[i] = name;
    }
  }
  return out;
}
