import { jsonBody, statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/auth/login': {
      request: (_context, caller) => ({ path: '/api/v1/auth/login', body: { username: caller.user?.username ?? 'nobody', password: 'wrong password for matrix' } }),
      succeeded: (response, body) => response.status === 401 && body.error === 'invalid_credentials',
    },
    'POST /api/v1/auth/refresh': {
      request: () => ({ path: '/api/v1/auth/refresh', body: { refreshToken: 'rt_not-a-real-token' } }),
      succeeded: (response, body) => response.status === 401 && body.error === 'invalid_refresh_token',
    },
    'POST /api/v1/auth/logout': { request: () => ({ path: '/api/v1/auth/logout', body: { refreshToken: 'rt_not-a-real-token' } }), succeeded: statusIn([204]) },
    'POST /api/v1/auth/logout-everywhere': { request: () => ({ path: '/api/v1/auth/logout-everywhere' }), succeeded: statusIn([200]), endsSessions: true },
    'GET /api/v1/auth/me': { request: () => ({ path: '/api/v1/auth/me' }), succeeded: statusIn([200]) },
    'POST /api/v1/api-keys': { request: () => ({ path: '/api/v1/api-keys', body: { name: 'matrix', scopes: ['metrics.read'] } }), succeeded: statusIn([201]) },
    'GET /api/v1/api-keys': { request: () => ({ path: '/api/v1/api-keys' }), succeeded: statusIn([200]) },
    'DELETE /api/v1/api-keys/:id': {
      async request(context) {
        const response = await context.hub.api('/api/v1/api-keys', { method: 'POST', ...jsonBody({ name: 'to revoke', scopes: ['metrics.read'] }) });
        const { apiKey } = (await response.json()) as { apiKey: { id: string } };
        return { path: `/api/v1/api-keys/${apiKey.id}` };
      },
      succeeded: statusIn([200]),
    },
  },
};
