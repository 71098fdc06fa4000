import type { FastifyInstance } from 'fastify';
import { COMMAND_OPS, ID_PATTERN, type CommandOp } from '../../protocol/index.js';
import { auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { listAgents } from './queries.js';
import { InvalidCommandError, UnknownAgentError, type AgentRegistry } from './registry.js';

export async function agentRoutes(app: FastifyInstance, { db, registry }: { db: Db; registry: AgentRegistry }): Promise<void> {
  app.get(
    '/api/v1/agents',
    {
      config: { policy: 'agents.read' },
      schema: {
        summary: 'Campus agents that have reported, with their last status and health',
        response: {
          200: {
            type: 'object',
            required: ['items'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    agentId: { type: 'string' },
                    campusId: { type: 'string' },
                    state: { type: 'string' },
                    stateSince: { type: ['string', 'null'], format: 'date-time' },
                    version: { type: ['string', 'null'] },
                    health: { type: ['object', 'null'], additionalProperties: true },
                    healthAt: { type: ['string', 'null'], format: 'date-time' },
                    lastSeenAt: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
          401: ErrorResponse,
        },
      },
    },
    async () => ({ items: await listAgents(db) }),
  );

  app.post<{ Params: { agentId: string }; Body: { op: CommandOp; params?: unknown; reason: string } }>(
    '/api/v1/agents/:agentId/commands',
    {
      config: { policy: 'agents.command' },
      schema: {
        summary: 'Send a command to an agent and wait for its result. Recorded with who asked and why.',
        params: { type: 'object', required: ['agentId'], properties: { agentId: { type: 'string', pattern: ID_PATTERN } } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['op', 'reason'],
          properties: {
            op: { type: 'string', enum: COMMAND_OPS },
            params: { type: 'object', default: {} },
            reason: { type: 'string', minLength: 3, maxLength: 500, description: 'why; kept with the command record' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['transaction', 'status'],
            properties: {
              transaction: { type: 'string' },
              status: { type: 'string', enum: ['ok', 'error', 'timeout'] },
              result: {},
              error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
            },
          },
          400: ErrorResponse,
          401: ErrorResponse,
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { op, params = {}, reason } = request.body;
      try {
        return await registry.sendCommand(request.params.agentId, op, params, auditContextOf(request), reason);
      } catch (error) {
        if (error instanceof UnknownAgentError) throw new HttpError(404, 'unknown_agent', error.message);
        if (error instanceof InvalidCommandError) throw new HttpError(400, 'invalid_command', error.message);
        throw error;
      }
    },
  );
}
