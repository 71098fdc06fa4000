import type { RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/me/personal-qr': {
      auditExempt: 'it signs a short-lived code and stores nothing; a code is single-use at the door, where the agent records it',
      request: () => ({ path: '/api/v1/me/personal-qr', body: {} }),
      // A student account not linked to a student row is refused by the route itself.
      succeeded: (response, body) => response.status === 201 || (response.status === 403 && body.error === 'not_enrolled'),
    },
  },
};
