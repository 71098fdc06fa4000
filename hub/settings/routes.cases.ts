import { ensureSmallCampus } from '../campus/routes.cases.js';
import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';
import { CAMPUS_IDS } from '../../test/support/campus.js';
import type { TestUser } from '../../test/support/users.js';

/** A section of the caller's department when it has one (cs), so that an HOD changes their own; else the whole institution. */
const scopeFor = (target: TestUser) => (target.departmentId === 'cs' ? `section:${CAMPUS_IDS.theory}` : 'institution:demo-univ');

export const routeCases: RouteCases = {
  setup: ensureSmallCampus,
  cases: {
    'GET /api/v1/settings/effective': { request: () => ({ path: `/api/v1/settings/effective?scope=section:${CAMPUS_IDS.theory}` }), succeeded: statusIn([200]) },
    'GET /api/v1/settings/versions': { request: () => ({ path: '/api/v1/settings/versions?scope=institution:demo-univ' }), succeeded: statusIn([200]) },
    'POST /api/v1/settings/validate': {
      auditExempt: 'validates values and saves nothing',
      request: () => ({ path: '/api/v1/settings/validate', body: { values: { 'attendance.lateGraceMinutes': 15 } } }),
      succeeded: statusIn([200]),
    },
    'PUT /api/v1/settings': {
      audits: ['settings.change'],
      request: (_context, _caller, target) => ({ path: '/api/v1/settings', body: { scope: scopeFor(target), values: { 'attendance.lateGraceMinutes': 12 }, reason: 'route matrix' } }),
      object: (target) => ({ departmentId: target.departmentId === 'cs' ? 'cs' : null }),
      succeeded: statusIn([200]),
    },
  },
};
