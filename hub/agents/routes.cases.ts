import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';

export const routeCases: RouteCases = {
  cases: {
    'GET /api/v1/agents': { request: () => ({ path: '/api/v1/agents' }), succeeded: statusIn([200]) },
    'POST /api/v1/agents/:agentId/commands': { audits: ['agent.command.ping'],
      request: () => ({ path: '/api/v1/agents/no-such-agent/commands', body: { op: 'ping', reason: 'route matrix' } }),
      // Allowed through: the hub looks for the agent, which has never reported.
      succeeded: (response, body) => response.status === 404 && body.error === 'unknown_agent',
    },
  },
};
