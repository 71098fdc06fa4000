import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'GET /api/v1/events': { request: () => ({ path: '/api/v1/events?limit=1' }), succeeded: statusIn([200]) },
  },
};
