import type { RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/me/personal-qr': {
      request: () => ({ path: '/api/v1/me/personal-qr', body: {} }),
      // A student account not linked to a student row is refused by the route itself.
      succeeded: (response, body) => response.status === 201 || (response.status === 403 && body.error === 'not_enrolled'),
    },
  },
};
