import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/db.js';
import type { HubMetrics } from '../metrics/metrics.js';

export interface HealthDeps {
  db: Db;
  metrics: HubMetrics;
  brokerConnected(): boolean;
  version: string;
  startedAt: Date;
}

export async function healthRoutes(app: FastifyInstance, deps: HealthDeps): Promise<void> {
  app.get(
    '/healthz',
    {
      config: { policy: 'public' },
      schema: {
        summary: 'Liveness and readiness: the database answers and the broker is connected',
        response: {
          200: { $ref: 'Health#' },
          503: { $ref: 'Health#' },
        },
      },
    },
    async (_request, reply) => {
      const database = await deps.db
        .query('select 1')
        .then(() => 'ok' as const)
        .catch(() => 'unreachable' as const);
      const broker = deps.brokerConnected() ? ('ok' as const) : ('disconnected' as const);
      const healthy = database === 'ok' && broker === 'ok';
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'ok' : 'degraded',
        version: deps.version,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
        database,
        databaseBackend: deps.db.backend,
        broker,
      });
    },
  );

  app.get(
    '/metrics',
    {
      config: { policy: 'metrics.read' },
      schema: { summary: 'Prometheus metrics (text exposition format); scrape with the admin bearer token' },
    },
    async (_request, reply) => {
      reply.type(deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );
}

export const HealthSchema = {
  $id: 'Health',
  type: 'object',
  required: ['status', 'version', 'uptimeSeconds', 'database', 'databaseBackend', 'broker'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    version: { type: 'string' },
    uptimeSeconds: { type: 'integer' },
    database: { type: 'string', enum: ['ok', 'unreachable'] },
    databaseBackend: { type: 'string', enum: ['postgres', 'pglite'] },
    broker: { type: 'string', enum: ['ok', 'disconnected'] },
  },
} as const;
