import { buildSchema, parse } from 'graphql';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FEATURES } from '../../src/features/registry';
import { DEFAULT_LIST_SIZE, operationCost, RANKING_COST } from '../../src/security/cost';

const schema = buildSchema(readFileSync(path.join(__dirname, '../../schema/schema.graphql'), 'utf8'));
const cost = (query: string, variables?: Record<string, unknown>, operationName?: string) => operationCost(schema, parse(query), operationName, variables).cost;

describe('operation cost', () => {
  test('the documented example: a ranking plus one unit a field, edges multiplied by first', () => {
    expect(cost('{ personalizedFeed(first: 25) { edges { node { title } } } }')).toBe(RANKING_COST + 1 + 25 * 3);
  });

  test('the default page size applies when first is omitted, and a variable sets it', () => {
    const q = 'query Q($n: Int) { personalizedFeed(first: $n) { edges { cursor } } }';
    expect(cost('{ personalizedFeed { edges { cursor } } }')).toBe(RANKING_COST + 1 + 25 * 2);
    expect(cost(q, { n: 100 })).toBe(RANKING_COST + 1 + 100 * 2);
    expect(cost(q, {})).toBe(RANKING_COST + 1 + 25 * 2); // an explicit null falls back to the default
  });

  test('nested lists multiply: each edge explains every feature', () => {
    const q = '{ personalizedFeed(first: 10) { edges { explanation { features { name value } } } } }';
    expect(cost(q)).toBe(RANKING_COST + 1 + 10 * (1 + 1 + FEATURES.length * 3));
  });

  test('compareRankers(k) sizes the ranked lists under a and b', () => {
    const q = '{ compareRankers(a: "hot", b: "top", k: 50) { a { items { rank } } } }';
    expect(cost(q)).toBe(RANKING_COST + 1 + (1 + 50 * 2));
  });

  test('aliases count each time; fragments are expanded, even when they double per level', () => {
    expect(cost('{ a: rankers { id } b: rankers { id } }')).toBe(2 * 20 * 2);
    let doc = 'fragment L0 on Query { features { name } }';
    for (let i = 1; i <= 20; i++) doc += ` fragment L${i} on Query { ...L${i - 1} ...L${i - 1} }`;
    expect(cost(`{ ...L20 } ${doc}`)).toBe(2 ** 20 * FEATURES.length * 2);
  });

  test('lists no argument sizes use their bound; introspection is free; the chosen operation is priced', () => {
    expect(cost('{ viewerSettings { blockedCommunities } }')).toBe(1 + DEFAULT_LIST_SIZE);
    expect(cost('{ __schema { types { name } } __typename }')).toBe(0);
    const two = 'query A { rankers { id } } query B { personalizedFeed { edges { cursor } } }';
    expect(cost(two, {}, 'A')).toBe(20 * 2);
    expect(cost(two, {}, 'B')).toBe(RANKING_COST + 1 + 25 * 2);
  });
});
