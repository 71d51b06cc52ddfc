import { getVariableValues, type ExecutionArgs, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../../resolvers/context';

/**
 * Adds `extensions.requestId` (the id in the feature log and the logs) to every response, and
 * `extensions.ranking.degraded` to a response when any feed in it was served without a source (or a session
 * filter) that failed or timed out: the client learns its answer is partial.
 */
export function useRankingExtensions(): Plugin<GatewayContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ args, result, setResult }) {
          const ctx = args.contextValue as GatewayContext;
          if (!result || Symbol.asyncIterator in result) return;
          const degraded = ctx.ranking.degraded;
          setResult({ ...result, extensions: { ...result.extensions, requestId: ctx.requestId, ...(degraded.length > 0 ? { ranking: { degraded } } : {}) } });
        },
      };
    },
  };
}

/**
 * Whether graphql-js would accept the operation's variables (no variables: yes). Checked per request, before
 * graphql-jit runs: graphql-jit coerces variables itself and knows nothing of @oneOf, so an operation whose variables
 * graphql-js would refuse goes to the standard executor, which refuses them with its usual errors.
 */
export function variablesAccepted(args: ExecutionArgs): boolean {
  const operation = args.document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition' && (args.operationName == null || d.name?.value === args.operationName),
  );
  const definitions = operation?.variableDefinitions ?? [];
  if (definitions.length === 0) return true;
  return getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 1 }).errors === undefined;
}
