import type { FastifyInstance } from 'fastify';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { HttpError } from '../errors.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import { erasePerson, exportPerson } from './privacy.js';

const Params = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;

/** Data-subject rights: a person's export bundle and erasure (docs/audit.md, "Data-subject rights"). */
export async function privacyRoutes(app: FastifyInstance, { db, fields, now }: { db: Db; fields: FieldCipher; now: () => number }): Promise<void> {
  app.get<{ Params: { id: string } }>(
    '/api/v1/students/:id/data-export',
    {
      config: { policy: 'privacy.export' },
      schema: { summary: 'Everything the hub holds about one student, as a downloadable JSON bundle; the export is audited', params: Params },
    },
    async (request, reply) => {
      const { rows } = await db.query<{ userId: string | null }>('select user_id as "userId" from students where id = $1', [request.params.id]);
      request.authorize({ ownerUserId: rows[0]?.userId ?? null });
      if (!rows[0]) throw new HttpError(404, 'not_found', 'no such object');
      const bundle = await db.transaction(async (tx) => {
        const exported = await exportPerson(tx, fields, request.params.id, new Date(now()));
        await appendAudit(tx, { ...auditContextOf(request), action: 'privacy.export', target: `student:${request.params.id}` });
        return exported;
      });
      reply.header('content-disposition', `attachment; filename="campushub-student-${request.params.id}.json"`);
      return reply.type('application/json').send(JSON.stringify(bundle, null, 2));
    },
  );

  app.post<{ Params: { id: string }; Body: { reason: string } }>(
    '/api/v1/students/:id/erase',
    {
      config: { policy: 'privacy.erase' },
      schema: {
        summary: 'Erase a student: pseudonymize their rows and destroy their data key; attendance and the audit trail keep their ids only',
        params: Params,
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 3, maxLength: 500 } } },
        response: { 200: { type: 'object', required: ['userId', 'keyDestroyed'], properties: { userId: { type: ['string', 'null'] }, keyDestroyed: { type: 'boolean' } } } },
      },
    },
    async (request) => erasePerson(db, request.params.id, { ...auditContextOf(request), reason: request.body.reason }, new Date(now())),
  );
}
