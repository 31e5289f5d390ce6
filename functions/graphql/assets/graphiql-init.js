/*
 * GraphiQL bootstrap for the /graphql endpoint.
 *
 * Served as a separate file (not inline) so the page works under a strict
 * Content-Security-Policy (script-src 'self'). Loaded after React, ReactDOM and
 * GraphiQL's UMD builds, which define the globals React, ReactDOM and GraphiQL.
 * References no external URL: queries go to this page's own path.
 */
(function () {
  'use strict';

  var DEFAULT_QUERY = [
    '# Authenticated requests: paste into the',
    '# "Headers" tab below',
    '#   {"Authorization": "Bearer <access token>"}',
    '# Headers are not saved in this browser.',
    '',
    'query LatestPosts {',
    '  posts(first: 5) {',
    '    edges {',
    '      node {',
    '        id',
    '        title',
    '        author {',
    '          username',
    '        }',
    '        commentCount',
    '      }',
    '    }',
    '    pageInfo {',
    '      hasNextPage',
    '      endCursor',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');

  var fetcher = GraphiQL.createFetcher({
    // The page is served from the GraphQL endpoint itself (GET /graphql).
    url: window.location.pathname,
  });

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
    })
  );
})();
