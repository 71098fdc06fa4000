import { randomUUID } from 'node:crypto';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { enqueueNotification } from './outbox.js';

/** One notification for each matrix user, so that marking one's own read succeeds. */
const notificationOf = (context: MatrixContext, user: TestUser | null) => (context.state.notifications as Record<string, string>)[user?.id ?? ''] ?? randomUUID();

export const routeCases: RouteCases = {
  async setup(context) {
    const ids: Record<string, string> = {};
    await context.hub.db.transaction(async (tx) => {
      for (const user of Object.values(context.users)) {
        ids[user.id] = (await enqueueNotification(tx, { webhooks: [], email: false }, { kind: 'matrix.test', recipient: user.id, dedupeKey: 'matrix', title: 'Matrix', body: {} }, new Date()))!;
      }
    });
    context.state.notifications = ids;
  },
  cases: {
    'GET /api/v1/notifications': { request: () => ({ path: '/api/v1/notifications?unread=true' }), succeeded: statusIn([200]) },
    'POST /api/v1/notifications/:id/read': {
      auditExempt: 'a recipient marking their own inbox item read changes nothing anyone else sees',
      request: (context, caller) => ({ path: `/api/v1/notifications/${notificationOf(context, caller.user)}/read` }),
      succeeded: statusIn([200]),
    },
    'GET /api/v1/notifications/preferences': { request: () => ({ path: '/api/v1/notifications/preferences' }), succeeded: statusIn([200]) },
    'PUT /api/v1/notifications/preferences': {
      audits: ['notifications.preferences.set'],
      request: () => ({ path: '/api/v1/notifications/preferences', body: { email: true, mutedKinds: ['absence.consecutive'], quietFrom: 1320, quietTo: 420, timeZone: 'Asia/Kolkata' } }),
      succeeded: statusIn([200]),
    },
    'GET /api/v1/notifications/deliveries': { request: () => ({ path: '/api/v1/notifications/deliveries?state=pending' }), succeeded: statusIn([200]) },
  },
};
