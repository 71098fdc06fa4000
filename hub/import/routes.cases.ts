import { ensureSmallCampus } from '../campus/routes.cases.js';
import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  setup: ensureSmallCampus,
  cases: {
    'POST /api/v1/import/:kind': { audits: ['import.holidays'],
      // Re-importing the same holiday is an update, so every allowed caller succeeds.
      request: () => ({ path: '/api/v1/import/holidays', body: [{ date: '2026-11-14', name: 'Children\'s Day', campus: 'main' }] }),
      succeeded: statusIn([200]),
    },
  },
};
