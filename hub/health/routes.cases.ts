import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'GET /healthz': { request: () => ({ path: '/healthz' }), succeeded: statusIn([200]) },
    'GET /metrics': { request: () => ({ path: '/metrics' }), succeeded: statusIn([200]) },
  },
};
