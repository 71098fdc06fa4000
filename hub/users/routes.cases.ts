import { randomUUID } from 'node:crypto';
import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/users': { audits: ['user.create'],
      request: () => ({ path: '/api/v1/users', body: { username: `m-${randomUUID().slice(0, 8)}`, displayName: 'Matrix', role: 'student' } }),
      succeeded: statusIn([201]),
    },
    'GET /api/v1/users': { request: () => ({ path: '/api/v1/users?limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/users/:id': {
      request: (_context, _caller, target) => ({ path: `/api/v1/users/${target.id}` }),
      object: (target) => ({ ownerUserId: target.id, departmentId: target.departmentId }),
      succeeded: statusIn([200]),
    },
    'PATCH /api/v1/users/:id': { audits: ['user.update', 'user.role.change'],
      request: (_context, _caller, target) => ({ path: `/api/v1/users/${target.id}`, body: { displayName: 'Renamed by the matrix' } }),
      succeeded: statusIn([200]),
    },
    'PUT /api/v1/users/:id/password': { audits: ['user.password.change', 'user.password.reset'],
      request: (_context, caller, target) => ({
        path: `/api/v1/users/${target.id}/password`,
        body: { currentPassword: caller.user?.id === target.id ? target.password : undefined, newPassword: `a brand new passphrase ${randomUUID().slice(0, 6)}` },
      }),
      object: (target) => ({ ownerUserId: target.id }),
      succeeded: statusIn([204]),
      endsSessions: true,
      setsPassword: true,
    },
  },
};
