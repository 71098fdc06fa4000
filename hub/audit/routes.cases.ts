import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'GET /api/v1/audit': { request: () => ({ path: '/api/v1/audit?action=auth.*&limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/audit/export': { request: () => ({ path: '/api/v1/audit/export?format=csv&action=user.create' }), succeeded: statusIn([200]) },
  },
};
