import type { FastifyInstance } from 'fastify';
import { auditContextOf } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { IMPORT_KINDS, ImportRejected, reportedErrors, runImport, type ImportKind } from './run.js';

/** Imports are the one kind of request allowed to be large. */
export const IMPORT_BODY_LIMIT_BYTES = 25 * 1024 * 1024;

export async function importRoutes(app: FastifyInstance, { db }: { db: Db }): Promise<void> {
  // Registered in this plugin only, so that no other route accepts CSV.
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));

  app.post<{ Params: { kind: ImportKind }; Querystring: { table?: string }; Body: unknown }>(
    '/api/v1/import/:kind',
    {
      config: { policy: 'import.run' },
      bodyLimit: IMPORT_BODY_LIMIT_BYTES,
      schema: {
        summary: 'Import a file from the student information system: CSV (text/csv) or JSON, all rows or none, upserted by natural key (docs/import.md)',
        params: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: IMPORT_KINDS } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { table: { type: 'string', pattern: '^[a-z_]{1,40}$', description: 'for a campus CSV: the table it holds' } },
        },
        // String first: with coerceTypes 'array' a CSV text would otherwise become a one-item array.
        body: { anyOf: [{ type: 'string' }, { type: 'array' }, { type: 'object' }] },
        response: {
          200: {
            type: 'object',
            required: ['kind', 'rows', 'inserted', 'updated'],
            properties: { kind: { type: 'string' }, rows: { type: 'integer' }, inserted: { type: 'integer' }, updated: { type: 'integer' } },
          },
          400: ErrorResponse,
          413: ErrorResponse,
          415: ErrorResponse,
          422: ErrorResponse,
        },
      },
    },
    async (request) => {
      const format = request.headers['content-type']?.startsWith('text/csv') ? 'csv' : 'json';
      try {
        return await runImport(db, { kind: request.params.kind, format, body: request.body, table: request.query.table }, { audit: auditContextOf(request) });
      } catch (error) {
        if (!(error instanceof ImportRejected)) throw error;
        const message = error.status === 400 ? 'the file could not be read; nothing was imported' : 'some rows are wrong; nothing was imported';
        throw new HttpError(error.status, 'import_rejected', message, reportedErrors(error.errors));
      }
    },
  );
}
