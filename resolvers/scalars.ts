import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/** ISO-8601 date-times. Serializes numbers as seconds since the epoch (how posts store time) and Dates. */
export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'number' && Number.isFinite(value)) return new Date(value * 1000).toISOString();
    throw new GraphQLError('DateTime cannot represent this value');
  },
  parseValue(value) {
    const d = typeof value === 'string' ? new Date(value) : null;
    if (!d || Number.isNaN(d.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return d;
  },
  parseLiteral(ast) {
    const d = ast.kind === Kind.STRING ? new Date(ast.value) : null;
    if (!d || Number.isNaN(d.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return d;
  },
});
