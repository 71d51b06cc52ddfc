import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError, parse, validate, specifiedRules, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { ErrorCode } from '../errors';

/**
 * Trusted documents (persisted operations): the operations a team's clients were built with, known to the gateway
 * by hash. A client sends `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"…"}},"variables":…}` (the
 * Apollo and GraphQL Codegen convention) instead of the text; the gateway runs the stored document, already parsed
 * and checked against the schema at start-up, so parsing is skipped and nothing unreviewed runs.
 *
 * The manifest is a JSON object `{ "<sha256>": "<document>" }` (GraphQL Codegen's client preset,
 * `persistedDocuments: true`) or an Apollo persisted-query manifest (`{ "format": "apollo-persisted-query-manifest",
 * "operations": [{ "id", "body" }] }`). `npm run --silent cli -- trust FILE.graphql…` writes the first form.
 */
export interface TrustedDocuments {
  /** The parsed document for a hash, or undefined. */
  get(hash: string): DocumentNode | undefined;
  readonly size: number;
}

export class TrustedDocumentsError extends Error {}

/** sha256 of an operation's text, lowercase hex: the id clients send. */
export const documentHash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Reads a manifest and checks every document: it must parse and pass the schema's validation plus `rules` (the
 * gateway's depth and alias limits), so a bad entry stops start-up instead of failing a client later.
 */
export function loadTrustedDocuments(file: string, schema: GraphQLSchema, rules: readonly ValidationRule[] = []): TrustedDocuments {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TrustedDocumentsError(`TRUSTED_DOCUMENTS ${file}: ${(err as Error).message}`);
  }
  const entries = manifestEntries(raw, file);
  const documents = new Map<string, DocumentNode>();
  for (const [id, text] of entries) {
    let doc: DocumentNode;
    try {
      doc = parse(text);
    } catch (err) {
      throw new TrustedDocumentsError(`TRUSTED_DOCUMENTS ${file}: document ${id} does not parse: ${(err as Error).message}`);
    }
    const errors = validate(schema, doc, [...specifiedRules, ...rules]);
    if (errors.length > 0) {
      throw new TrustedDocumentsError(`TRUSTED_DOCUMENTS ${file}: document ${id} is not valid against the schema: ${errors.map((e) => e.message).join('; ')}`);
    }
    documents.set(id, doc);
  }
  return { get: (hash) => documents.get(hash), size: documents.size };
}

function manifestEntries(raw: unknown, file: string): [string, string][] {
  const bad = (why: string) => new TrustedDocumentsError(`TRUSTED_DOCUMENTS ${file}: ${why}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('expected a JSON object');
  const obj = raw as Record<string, unknown>;
  if (obj.format === 'apollo-persisted-query-manifest') {
    if (!Array.isArray(obj.operations)) throw bad('an Apollo manifest needs an "operations" array');
    return obj.operations.map((op: unknown, i: number) => {
      const o = op as { id?: unknown; body?: unknown };
      if (typeof o?.id !== 'string' || typeof o?.body !== 'string') throw bad(`operations[${i}] needs string "id" and "body"`);
      return [o.id, o.body];
    });
  }
  return Object.entries(obj).map(([id, text]) => {
    if (typeof text !== 'string') throw bad(`the value of "${id}" must be the document's text`);
    return [id, text];
  });
}

const codedError = (code: ErrorCode, message: string) => ({ message, extensions: { code, http: { status: code === 'PERSISTED_QUERY_NOT_FOUND' ? 404 : 400 } } });

/** The yoga plugin: trusted documents by hash, and (unless `allowArbitraryOperations`) nothing else. */
export function useTrustedDocuments(documents: TrustedDocuments, allowArbitraryOperations: boolean): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryOperations,
    customErrors: {
      notFound: codedError('PERSISTED_QUERY_NOT_FOUND', 'No trusted document has this hash: the client was built with operations this gateway does not know.'),
      keyNotFound: codedError(
        allowArbitraryOperations ? 'BAD_USER_INPUT' : 'PERSISTED_QUERY_ONLY',
        allowArbitraryOperations
          ? 'Send a query, or a trusted document as extensions.persistedQuery { version: 1, sha256Hash }.'
          : 'This gateway runs trusted documents only: send extensions.persistedQuery { version: 1, sha256Hash }.',
      ),
      persistedQueryOnly: codedError('PERSISTED_QUERY_ONLY', 'This gateway runs trusted documents only: send extensions.persistedQuery { version: 1, sha256Hash } instead of the query text.'),
    },
  });
}

/** `{ hash: text }` for every operation in `sources` (one operation or fragment set per file): a manifest. */
export function buildManifest(sources: readonly string[]): Record<string, string> {
  const manifest: Record<string, string> = {};
  for (const text of sources) {
    const doc = parse(text); // throws GraphQLError with a location on a typo
    if (!doc.definitions.some((d) => d.kind === 'OperationDefinition')) throw new GraphQLError('a trusted document needs an operation');
    manifest[documentHash(text)] = text;
  }
  return manifest;
}
