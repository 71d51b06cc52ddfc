import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { FEATURES } from '../features/registry';
import { MAX_PAGE_SIZE } from '../limits';

/**
 * What an operation costs the gateway, before it runs: one unit a field, multiplied by how many times the field
 * resolves. A list multiplies everything below it by its size:
 *   - a page's `edges` by the `first` of the feed field above it (its default when omitted);
 *   - a comparison's ranked lists (`a.items`, `b.items`) and `shifts` by its `k`;
 *   - an explanation's `features` by the number of registry features;
 *   - any other list by the bound in LIST_SIZES (else DEFAULT_LIST_SIZE).
 * A field that ranks a feed adds RANKING_COST on top, since a ranking is the expensive thing the gateway does.
 *
 * So `personalizedFeed(first: 25) { edges { node { title } } }` costs 100 + 1 + 25 × (1 + 1 + 1) = 176, and the
 * same with `first: 100` and each edge's 35-feature explanation about 100 × 150 = 15,000. Aliases are counted as
 * often as they appear: forty aliased feeds cost forty rankings.
 *
 * Fragments are expanded; a fragment's cost is memoized per list size, so a fragment "bomb" (fragments spreading
 * each other twice, ten levels deep) is computed in linear time and priced at its full expanded size.
 * Introspection (`__schema`, `__type`, `__typename`) costs nothing: it reads the schema, not the store, and is off in
 * production.
 */
export const RANKING_COST = 100;

/**
 * Fields that rank: every field of these types (each a full pipeline run on a cache miss), so a feed added to the
 * schema is priced as one without a change here.
 */
const RANKING_TYPES = new Set(['FeedConnection', 'RankerComparison']);

/** The arguments that size the lists below a field. */
const PAGE_ARGS = ['first', 'k'] as const;

/** Lists sized by the page argument of the field above them. */
const PAGED_LISTS = new Set(['FeedConnection.edges', 'RankedList.items', 'RankerComparison.shifts']);

/** Upper bounds of the lists whose size no argument sets. */
const LIST_SIZES: Record<string, number> = {
  'Explanation.features': FEATURES.length,
  'Query.features': FEATURES.length,
  'Ranker.features': FEATURES.length,
  'Query.rankers': 20,
  'Funnel.retrieved': 10,
  'Funnel.filtered': 10,
};
export const DEFAULT_LIST_SIZE = 10;

export interface OperationCost {
  readonly cost: number;
  readonly operationName: string | null;
}

/**
 * The cost of the operation `operationName` selects in `document` (the only one when null), with `variables`
 * applied. Arguments that do not coerce are priced at their defaults: execution refuses them anyway.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): OperationCost {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations: OperationDefinitionNode[] = [];
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    else if (def.kind === Kind.OPERATION_DEFINITION) operations.push(def);
  }
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return { cost: 0, operationName: operationName ?? null };
  const root = schema.getRootType(operation.operation);
  if (!root) return { cost: 0, operationName: operation.name?.value ?? null };

  const vars = variables ?? {};
  const memo = new Map<string, number>();
  const visiting = new Set<string>();

  const selectionCost = (type: GraphQLObjectType, set: SelectionSetNode, pageSize: number | null): number => {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        total += fieldCost(type, sel, pageSize);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        if (isObjectType(cond)) total += selectionCost(cond, sel.selectionSet, pageSize);
      } else {
        const name = sel.name.value;
        const key = `${name}|${pageSize ?? ''}`;
        const known = memo.get(key);
        if (known !== undefined) {
          total += known;
          continue;
        }
        const frag = fragments.get(name);
        // Unknown or cyclic fragments are validation errors; they add nothing here.
        if (!frag || visiting.has(name)) continue;
        const cond = schema.getType(frag.typeCondition.name.value);
        if (!isObjectType(cond)) continue;
        visiting.add(name);
        const c = selectionCost(cond, frag.selectionSet, pageSize);
        visiting.delete(name);
        memo.set(key, c);
        total += c;
      }
    }
    return total;
  };

  const fieldCost = (parent: GraphQLObjectType, node: FieldNode, pageSize: number | null): number => {
    const name = node.name.value;
    if (name.startsWith('__')) return 0;
    const def = parent.getFields()[name];
    if (!def) return 0; // unknown fields fail validation
    const coordinate = `${parent.name}.${name}`;
    const named = getNamedType(def.type);
    let own = 1 + (RANKING_TYPES.has(named.name) ? RANKING_COST : 0);
    const size = isListType(getNullableType(def.type)) ? listSize(coordinate, pageSize) : 1;
    if (!node.selectionSet || !isObjectType(named)) return own * size;
    // A page argument sizes the paged lists anywhere below its field (compareRankers(k) { a { items } }).
    const childPage = pageArgument(def, node, vars) ?? pageSize;
    own += selectionCost(named, node.selectionSet, childPage);
    return own * size;
  };

  const cost = selectionCost(root, operation.selectionSet, null);
  return { cost, operationName: operation.name?.value ?? null };
}

function listSize(coordinate: string, pageSize: number | null): number {
  // A page above MAX_PAGE_SIZE is refused as BAD_USER_INPUT by its resolver; pricing it at the maximum keeps that
  // code (and not COST_LIMIT_EXCEEDED) for `first: 100000` on its own.
  if (PAGED_LISTS.has(coordinate)) return Math.min(MAX_PAGE_SIZE, Math.max(0, pageSize ?? DEFAULT_LIST_SIZE));
  return LIST_SIZES[coordinate] ?? DEFAULT_LIST_SIZE;
}

/** The field's `first` or `k` with variables and defaults applied; undefined when it has none or it does not coerce. */
function pageArgument(def: GraphQLField<unknown, unknown>, node: FieldNode, variables: Record<string, unknown>): number | undefined {
  if (!def.args.some((a) => (PAGE_ARGS as readonly string[]).includes(a.name))) return undefined;
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(def, node, variables);
  } catch {
    // Fall back to the declared default; execution reports the bad argument.
    values = Object.fromEntries(def.args.map((a) => [a.name, a.defaultValue]));
  }
  for (const arg of PAGE_ARGS) {
    const v = values[arg];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}
