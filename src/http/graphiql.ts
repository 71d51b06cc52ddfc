import type { GraphiQLOptions } from 'graphql-yoga';

const DEFAULT_QUERY = `# Welcome to the ranking gateway. Press the run button (or Ctrl-Enter).
# In development the Headers tab below carries a demo viewer's token, so personalizedFeed answers as that viewer;
# contextualFeed needs no token at all.
query Feeds {
  home: personalizedFeed(first: 5) {
    rankedBy { id version }
    edges { rank score node { id title score numComments createdAt community { name } } }
    pageInfo { hasNextPage endCursor }
  }
  pics: contextualFeed(context: { community: "pics" }, first: 3, ranker: "top") {
    rankedBy { id }
    edges { rank score node { title score url } }
  }
  rankers { id version description }
}
`;

const SIGNED_OUT_QUERY = `# Welcome to the ranking gateway. Press the run button (or Ctrl-Enter).
# contextualFeed needs no token; personalizedFeed needs "Authorization: Bearer <token>" in the Headers tab.
query Feeds {
  pics: contextualFeed(context: { community: "pics" }, first: 5) {
    rankedBy { id version }
    edges { rank score node { id title score numComments createdAt community { name } } }
    pageInfo { hasNextPage endCursor }
  }
  rankers { id version description }
}
`;

/**
 * GraphiQL's options: an example query that answers on a default start, and in development a demo viewer's token in
 * its Headers tab (null: signed out, and the example says how to sign in).
 */
export function graphiqlOptions(demoToken: string | null): GraphiQLOptions {
  return {
    title: 'Ranking gateway',
    defaultQuery: demoToken ? DEFAULT_QUERY : SIGNED_OUT_QUERY,
    headers: demoToken ? JSON.stringify({ Authorization: `Bearer ${demoToken}` }, null, 2) : undefined,
    shouldPersistHeaders: false,
  };
}
