import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'GET /docs': { request: () => ({ path: '/docs' }), succeeded: statusIn([200]) },
    'GET /docs/openapi.json': { request: () => ({ path: '/docs/openapi.json' }), succeeded: statusIn([200]) },
  },
};
