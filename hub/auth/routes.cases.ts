import { jsonBody, statusIn, type RouteCases } from '../../test/support/routeMatrix.js';
import { signIn } from '../../test/support/users.js';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/auth/login': { audits: ['auth.login'],
      request: (_context, caller) => ({ path: '/api/v1/auth/login', body: { username: caller.user?.username ?? 'nobody', password: 'wrong password for matrix' } }),
      succeeded: (response, body) => response.status === 401 && body.error === 'invalid_credentials',
    },
    'POST /api/v1/auth/refresh': { auditExempt: 'rotates the caller\'s own refresh token within a sign-in that auth.login audited; reuse of a spent token is audited as auth.refresh.reuse',
      request: () => ({ path: '/api/v1/auth/refresh', body: { refreshToken: 'rt_not-a-real-token' } }),
      succeeded: (response, body) => response.status === 401 && body.error === 'invalid_refresh_token',
    },
    'POST /api/v1/auth/logout': {
      audits: ['auth.logout'],
      // A sign-in of its own to end, so that the logout changes something (an unknown token is a no-op) and the matrix users stay signed in.
      async request(context) {
        const { admin } = context.users;
        const response = await signIn(context.hub, admin!.username, admin!.password);
        const { refreshToken } = (await response.json()) as { refreshToken: string };
        return { path: '/api/v1/auth/logout', body: { refreshToken } };
      },
      succeeded: statusIn([204]),
    },
    'POST /api/v1/auth/logout-everywhere': { audits: ['auth.logout-everywhere'], request: () => ({ path: '/api/v1/auth/logout-everywhere' }), succeeded: statusIn([200]), endsSessions: true },
    'GET /api/v1/auth/me': { request: () => ({ path: '/api/v1/auth/me' }), succeeded: statusIn([200]) },
    'POST /api/v1/api-keys': { audits: ['api-key.issue'], request: () => ({ path: '/api/v1/api-keys', body: { name: 'matrix', scopes: ['metrics.read'] } }), succeeded: statusIn([201]) },
    'GET /api/v1/api-keys': { request: () => ({ path: '/api/v1/api-keys' }), succeeded: statusIn([200]) },
    'DELETE /api/v1/api-keys/:id': { audits: ['api-key.revoke'],
      async request(context) {
        const response = await context.hub.api('/api/v1/api-keys', { method: 'POST', ...jsonBody({ name: 'to revoke', scopes: ['metrics.read'] }) });
        const { apiKey } = (await response.json()) as { apiKey: { id: string } };
        return { path: `/api/v1/api-keys/${apiKey.id}` };
      },
      succeeded: statusIn([200]),
    },
  },
};
