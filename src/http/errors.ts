import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError, type YogaServerOptions } from 'graphql-yoga';
import { isGatewayError } from '../errors';
import type { Logger } from '../telemetry/logger';

/**
 * Yoga's error masking, with the gateway's closed set of codes (src/errors.ts): a GatewayError reaches the client
 * with its code and details; anything else is INTERNAL_SERVER_ERROR (development adds the original message and
 * stack; test and production never do), and the log keeps the stack.
 */
export function maskedErrors(isDev: boolean, logger: Logger): NonNullable<YogaServerOptions<object, object>['maskedErrors']> {
  return {
    isDev,
    maskError(error, message, dev) {
      const original = error instanceof GraphQLError ? error.originalError : error;
      if (isGatewayError(original)) {
        const g = error instanceof GraphQLError ? error : null;
        return new GraphQLError(original.message, {
          nodes: g?.nodes,
          source: g?.source,
          positions: g?.positions,
          path: g?.path,
          extensions: { ...original.details, code: original.code },
        });
      }
      const masked = yogaMaskError(error, message, dev);
      if (masked !== error) {
        const cause = original instanceof Error ? original : error;
        logger.error({ err: cause, path: (error as GraphQLError)?.path }, 'unexpected error while resolving');
      }
      return masked;
    },
  };
}
