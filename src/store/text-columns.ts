/**
 * How the post table (`post-table.ts`) keeps its text: ids, titles and urls in a few large strings, and the few
 * distinct community names and domains as numbers into a list.
 */
/** Few distinct values (community names, link domains): each kept once, a row holds its number. */
export class Dictionary {
  readonly names: string[] = [];
  private readonly codes = new Map<string, number>();

  code(name: string): number {
    let c = this.codes.get(name);
    if (c === undefined) this.codes.set(name, (c = this.names.push(name) - 1));
    return c;
  }
}

/**
 * Text as a few large strings. A position is where a string starts: chunk * CHUNK + offset in the chunk, plus WIDE
 * for the chunks of two-byte text (so the position of the next string of one `append` is this one's plus its length).
 * Latin-1 text is kept apart from the rest because V8 stores a string one byte per character only when all of it is
 * Latin-1: one curly quote would double a whole chunk's size.
 */
export class TextColumns {
  private readonly narrow = new Chunks();
  private readonly wide = new Chunks();

  /** Appends the four strings one after the other, in one chunk; returns the position of the first. */
  append(a: string, b: string, c: string, d: string): number {
    const wide = NOT_LATIN1.test(a) || NOT_LATIN1.test(b) || NOT_LATIN1.test(c) || NOT_LATIN1.test(d);
    return wide ? WIDE + this.wide.append(a, b, c, d) : this.narrow.append(a, b, c, d);
  }

  seal(): void {
    this.narrow.seal();
    this.wide.seal();
  }

  /** The `length` characters at `at` (a slice of a chunk: V8 makes it a view, without copying, from 13 characters). */
  read(at: number, length: number): string {
    return at >= WIDE ? this.wide.read(at - WIDE, length) : this.narrow.read(at, length);
  }

  /** Whether the text at `at` starts with `s`. */
  startsWith(at: number, s: string): boolean {
    return at >= WIDE ? this.wide.startsWith(at - WIDE, s) : this.narrow.startsWith(at, s);
  }
}

const NOT_LATIN1 = /[^\u0000-\u00ff]/;
/** Added to positions in two-byte text: above any narrow position, and positions stay exact in a double (< 2^53). */
const WIDE = 2 ** 50;
/** Characters per chunk: far below V8's longest string (2^29 - 24), and few chunks even for millions of posts. */
const CHUNK = 2 ** 24;

class Chunks {
  private readonly chunks: string[] = [];
  private open: string[] = [];
  private used = 0;

  append(a: string, b: string, c: string, d: string): number {
    const length = a.length + b.length + c.length + d.length;
    if (this.used > 0 && this.used + length > CHUNK) this.seal();
    const at = this.chunks.length * CHUNK + this.used;
    this.open.push(a, b, c, d);
    this.used += length;
    // A string longer than a chunk gets a chunk of its own: offsets within a chunk stay below CHUNK.
    if (this.used >= CHUNK) this.seal();
    return at;
  }

  seal(): void {
    if (this.open.length === 0) return;
    this.chunks.push(this.open.join(''));
    this.open = [];
    this.used = 0;
  }

  read(at: number, length: number): string {
    const offset = at % CHUNK;
    return this.chunks[(at - offset) / CHUNK]!.slice(offset, offset + length);
  }

  startsWith(at: number, s: string): boolean {
    const offset = at % CHUNK;
    return this.chunks[(at - offset) / CHUNK]!.startsWith(s, offset);
  }
}

/** FNV-1a over UTF-16 units. */
export function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
