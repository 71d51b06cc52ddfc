import {
  GraphQLError,
  Kind,
  parse,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { SecurityConfig } from '../config';
import type { ErrorCode } from '../errors';
import { operationCost } from './cost';

/**
 * The limits one request must stay within, checked before anything is resolved. Each refusal is a GraphQL error
 * with its own `extensions.code`, the limit and the value found, and the request does no other work:
 *   - tokens while parsing (graphql's own `maxTokens`, so a huge document is not even parsed whole);
 *   - depth, aliases and introspection as validation rules (cached with the document);
 *   - cost before execution, because it depends on variables (src/security/cost.ts).
 * The body size is refused earlier still, at the HTTP layer (src/http/body.ts).
 */
export function useRequestLimits(limits: Pick<SecurityConfig, 'maxTokens' | 'maxDepth' | 'maxAliases' | 'maxCost' | 'introspection'>): Plugin {
  const rules: ValidationRule[] = [depthRule(limits.maxDepth), aliasRule(limits.maxAliases)];
  if (!limits.introspection) rules.push(noIntrospectionRule);
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => parseWithTokenLimit(source, limits.maxTokens, options));
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
      if (limits.introspection) return undefined;
      // With introspection off, "Did you mean …?" would still spell out the schema field by field.
      return ({ result, setResult }) => {
        if (result.some((e) => e.message.includes('Did you mean'))) {
          setResult(result.map((e) => (e.message.includes('Did you mean') ? withoutSuggestion(e) : e)));
        }
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      const { cost } = operationCost(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined);
      if (cost > limits.maxCost) {
        setResultAndStopExecution({
          errors: [
            limitError('COST_LIMIT_EXCEEDED', `The operation costs ${cost}, above the limit of ${limits.maxCost}. Ask for smaller pages (first), fewer feeds or fewer nested lists.`, {
              cost,
              maxCost: limits.maxCost,
            }),
          ],
        });
      }
    },
  };
}

function limitError(code: ErrorCode, message: string, details: Record<string, unknown>, nodes?: GraphQLError['nodes']): GraphQLError {
  return new GraphQLError(message, { nodes, extensions: { code, ...details, http: { status: 400 } } });
}

/** graphql's parser stops at `maxTokens`; its syntax error becomes TOKEN_LIMIT_EXCEEDED. */
export function parseWithTokenLimit(source: Parameters<typeof parse>[0], maxTokens: number, options?: Parameters<typeof parse>[1]): DocumentNode {
  try {
    return parse(source, { ...options, maxTokens });
  } catch (err) {
    if (err instanceof GraphQLError && /contains more th(?:an|at|en) \d+ tokens/.test(err.message)) {
      throw limitError('TOKEN_LIMIT_EXCEEDED', `The document has more than ${maxTokens} tokens.`, { maxTokens });
    }
    throw err;
  }
}

/** Deepest field nesting of each operation, fragments expanded (memoized per fragment, cycles left to graphql's rule). */
export function depthRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const depthOf = fragmentMeasure(context, (set, measure) => {
      let deepest = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          // Introspection reads the schema and is bounded by it; its nesting (ofType { ofType { … } }) is not counted.
          if (sel.name.value === '__schema' || sel.name.value === '__type') continue;
          deepest = Math.max(deepest, 1 + (sel.selectionSet ? measure(sel.selectionSet) : 0));
        } else {
          deepest = Math.max(deepest, measure(sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : sel.name.value));
        }
      }
      return deepest;
    });
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet);
        if (depth > maxDepth) {
          context.reportError(
            limitError('DEPTH_LIMIT_EXCEEDED', `${node.name ? `Operation "${node.name.value}"` : 'The operation'} nests ${depth} fields deep, above the limit of ${maxDepth}.`, { depth, maxDepth }, [node]),
          );
        }
      },
    };
  };
}

/** Aliased fields per operation, fragments expanded, so a spread fragment counts its aliases each time. */
export function aliasRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const aliasesIn = fragmentMeasure(context, (set, measure) => {
      let n = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) n += (sel.alias ? 1 : 0) + (sel.selectionSet ? measure(sel.selectionSet) : 0);
        else n += measure(sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : sel.name.value);
      }
      return n;
    });
    return {
      OperationDefinition(node) {
        const aliases = aliasesIn(node.selectionSet);
        if (aliases > maxAliases) {
          context.reportError(
            limitError('ALIAS_LIMIT_EXCEEDED', `${node.name ? `Operation "${node.name.value}"` : 'The operation'} uses ${aliases} aliases, above the limit of ${maxAliases}.`, { aliases, maxAliases }, [node]),
          );
        }
      },
    };
  };
}

/**
 * A measure over selection sets in which a fragment spread is measured once per fragment (memoized): linear in the
 * document even when fragments spread each other many times. Unknown and cyclic fragments measure 0 (graphql's own
 * rules report them).
 */
function fragmentMeasure(
  context: ValidationContext,
  measureSet: (set: SelectionSetNode, measure: (x: SelectionSetNode | string) => number) => number,
): (set: SelectionSetNode) => number {
  const memo = new Map<string, number>();
  const onPath = new Set<string>();
  const measure = (x: SelectionSetNode | string): number => {
    if (typeof x !== 'string') return measureSet(x, measure);
    const known = memo.get(x);
    if (known !== undefined) return known;
    const frag: FragmentDefinitionNode | null | undefined = context.getFragment(x);
    if (!frag || onPath.has(x)) return 0;
    onPath.add(x);
    const value = measureSet(frag.selectionSet, measure);
    onPath.delete(x);
    memo.set(x, value);
    return value;
  };
  return (set) => measure(set);
}

/** Refuses `__schema` and `__type` (not `__typename`, which clients need for caching). */
export const noIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    const name = node.name.value;
    if (name === '__schema' || name === '__type') {
      context.reportError(limitError('INTROSPECTION_DISABLED', `Introspection is disabled on this server ("${name}").`, {}, [node]));
    }
  },
});

function withoutSuggestion(e: GraphQLError): GraphQLError {
  return new GraphQLError(e.message.replace(/\s*Did you mean .*$/s, ''), {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    path: e.path,
    originalError: e.originalError,
    extensions: e.extensions,
  });
}
