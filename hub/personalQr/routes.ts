import type { FastifyInstance } from 'fastify';
import { ErrorResponse, HttpError } from '../errors.js';
import type { Db } from '../db/db.js';
import { studentOfUser } from '../records/queries.js';
import { PERSONAL_QR_TTL_SECONDS, type PersonalQrSigner } from './signer.js';

export async function personalQrRoutes(app: FastifyInstance, { db, signer, now }: { db: Db; signer: PersonalQrSigner; now: () => number }): Promise<void> {
  app.post(
    '/api/v1/me/personal-qr',
    {
      config: { policy: 'personal-qr.issue' },
      schema: {
        summary: `The caller's personal QR code for door devices: signed by the hub (Ed25519), valid ${PERSONAL_QR_TTL_SECONDS} s, accepted once; agents check it offline`,
        response: {
          201: {
            type: 'object',
            required: ['code', 'expiresAt'],
            properties: { code: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, ttlSeconds: { type: 'integer' } },
          },
          403: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const studentId = await studentOfUser(db, request.principal!.id);
      if (!studentId) throw new HttpError(403, 'not_enrolled', 'your account is not linked to a student');
      const { code, expiresAt } = signer.issue(studentId, now());
      return reply.code(201).send({ code, expiresAt: expiresAt.toISOString(), ttlSeconds: PERSONAL_QR_TTL_SECONDS });
    },
  );
}
