import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';
import { ensureSmallCampus } from '../campus/routes.cases.js';

let registered = 0;

export const routeCases: RouteCases = {
  setup: async (context) => {
    await ensureSmallCampus(context);
    await context.hub.db.query(
      `insert into devices (campus_id, device_id, kind, registered_by, registered_at, updated_at) values ('main', 'door-matrix', 'zk', 'matrix', now(), now()) on conflict do nothing`,
    );
  },
  cases: {
    'GET /api/v1/devices': { request: () => ({ path: '/api/v1/devices?campusId=main' }), succeeded: statusIn([200]) },
    'POST /api/v1/devices': {
      audits: ['devices.register'],
      // A fresh id per call, so every call the policy lets through registers one.
      request: () => ({ path: '/api/v1/devices', body: { campusId: 'main', deviceId: `door-m${++registered}`, kind: 'zk' } }),
      succeeded: statusIn([201]),
    },
    'GET /api/v1/devices/:campusId/:deviceId': { request: () => ({ path: '/api/v1/devices/main/door-matrix' }), succeeded: statusIn([200]) },
    'PUT /api/v1/devices/:campusId/:deviceId/room': { audits: ['devices.assign_room'], request: () => ({ path: '/api/v1/devices/main/door-matrix/room', body: { roomId: 'R201' } }), succeeded: statusIn([200]) },
    'POST /api/v1/devices/offline-cache': {
      auditExempt: 'it stores nothing at the hub; each offline.cache command it sends an agent is audited as agent.command.offline.cache',
      request: () => ({ path: '/api/v1/devices/offline-cache', body: { campusId: 'main' } }), succeeded: statusIn([200]) },
  },
};
