/**
 * The layering of src/ and resolvers/, checked by dependency-cruiser (`npm run lint:deps`, run by `.ci/run`).
 *
 * A request flows down these layers and never climbs back; a module may import its own layer and those below:
 *
 *   entry        src/main.ts, src/cli.ts, src/mle/            (processes and tools)
 *   composition  src/bootstrap.ts                              (config -> store -> rankers -> gateway)
 *   server       src/server.ts, src/http/, src/security/       (HTTP and GraphQL wiring)
 *   resolvers    resolvers/                                    (thin: arguments in, feed service, answer out)
 *   feed         src/feed/                                     (resolve a request, cut a page)
 *   pipeline     src/pipeline/                                 (the runner and the feed configurations)
 *   stages       src/side-effects/ > src/candidates/, src/filters/, src/selectors/, src/cache/ > src/rankers/ > src/features/
 *   store        src/store/                                    (Redis and embedded backends behind one contract)
 *   base         src/{content,errors,config,limits,deadline,redis-url}.ts, src/auth/, src/telemetry/, src/dataset/
 *
 * Beside the layers: no import cycles, ioredis only under src/store/, GraphQL only at the server and resolvers.
 */
const ENTRY = '^src/(main|cli)[.]ts$|^src/mle/';
const COMPOSITION = '^src/bootstrap[.]ts$';
const SERVER = '^src/(server[.]ts$|http/|security/)';
const RESOLVERS = '^resolvers/';
const FEED = '^src/feed/';
const PIPELINE = '^src/pipeline/';
const SIDE_EFFECTS = '^src/side-effects/';
const MID_STAGES = '^src/(candidates|filters|selectors|cache)/';
const RANKERS = '^src/rankers/';
const FEATURES = '^src/features/';
const STORE = '^src/store/';

const any = (...patterns) => patterns.join('|');

/** A layer may not import any layer above it. */
const above = [
  ['composition', COMPOSITION, [ENTRY]],
  ['server', SERVER, [ENTRY, COMPOSITION]],
  ['resolvers', RESOLVERS, [ENTRY, COMPOSITION, SERVER]],
  ['feed', FEED, [ENTRY, COMPOSITION, SERVER, RESOLVERS]],
  ['pipeline', PIPELINE, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED]],
  ['side-effects', SIDE_EFFECTS, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE]],
  ['candidates, filters, selectors, cache', MID_STAGES, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE, SIDE_EFFECTS]],
  ['rankers', RANKERS, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE, SIDE_EFFECTS, MID_STAGES]],
  ['features', FEATURES, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE, SIDE_EFFECTS, MID_STAGES, RANKERS]],
  ['store', STORE, [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE, SIDE_EFFECTS, MID_STAGES, RANKERS, FEATURES]],
  ['base', '^src/(content|errors|config|limits|deadline|redis-url)[.]ts$|^src/(auth|telemetry|dataset)/', [ENTRY, COMPOSITION, SERVER, RESOLVERS, FEED, PIPELINE, SIDE_EFFECTS, MID_STAGES, RANKERS, FEATURES, STORE]],
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the modules on it cannot be understood (or initialised) one before the other.',
      from: {},
      to: { circular: true },
    },
    ...above.map(([name, from, higher]) => ({
      name: `no-upward-import-from-${name.split(',')[0]}`,
      severity: 'error',
      comment: `${name} imports a layer above it (see the layers at the top of .dependency-cruiser.cjs).`,
      from: { path: from },
      to: { path: any(...higher) },
    })),
    {
      name: 'ioredis-only-in-the-store',
      severity: 'error',
      comment: 'Every Redis access lives under src/store/, behind the store contract.',
      from: { pathNot: '^src/store/' },
      to: { path: 'node_modules/ioredis/' },
    },
    {
      name: 'graphql-only-at-the-edge',
      severity: 'error',
      comment: 'GraphQL belongs to the server and the resolvers: the pipeline, its stages and the store know none of it.',
      from: { path: any(FEED, PIPELINE, SIDE_EFFECTS, MID_STAGES, RANKERS, FEATURES, STORE) },
      to: { path: 'node_modules/(graphql|graphql-yoga|@graphql-yoga|@envelop)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    // Type-only imports count: a layer that needs another's types depends on it all the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages with an `exports` map (csv-parse/sync) resolve as Node resolves them.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default', 'types'], mainFields: ['types', 'typings', 'main'] },
  },
};
