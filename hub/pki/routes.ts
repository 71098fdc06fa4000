import type { FastifyInstance } from 'fastify';
import { ID_PATTERN, type EnrollRequest, type RenewRequest } from '../../protocol/index.js';
import { auditContextOf } from '../audit/append.js';
import { ErrorResponse, HttpError } from '../errors.js';
import type { Pki } from './pki.js';

const MAX_PAGE = 200;
const PEM = { type: 'string', minLength: 64, maxLength: 16_384 } as const;
const SERIAL_PATTERN = '^[0-9a-fA-F]{1,64}$';

const IssuedCertificate = {
  type: 'object',
  required: ['certificatePem', 'caCertificatePem', 'notAfter', 'serial'],
  properties: {
    certificatePem: { type: 'string' },
    caCertificatePem: { type: 'string' },
    notAfter: { type: 'string', format: 'date-time' },
    serial: { type: 'string' },
  },
} as const;

const CertificateItem = {
  type: 'object',
  required: ['serial', 'kind', 'commonName', 'campusId', 'agentId', 'notBefore', 'notAfter', 'fingerprint', 'issuedAt', 'renewedFrom', 'revokedAt', 'revokedBy', 'revokeReason'],
  properties: {
    serial: { type: 'string' },
    kind: { type: 'string', enum: ['agent', 'hub', 'server'] },
    commonName: { type: 'string' },
    campusId: { type: ['string', 'null'] },
    agentId: { type: ['string', 'null'] },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    fingerprint: { type: 'string' },
    issuedAt: { type: 'string', format: 'date-time' },
    renewedFrom: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
    revokedBy: { type: ['string', 'null'] },
    revokeReason: { type: ['string', 'null'] },
  },
} as const;

function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const seq = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(seq) || seq < 1) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', { cursor });
  return seq;
}

/**
 * Agent identity over HTTP: enrollment tokens, enrollment, renewal, the
 * certificate list and revocation. Enrollment and renewal are public routes
 * that authenticate by their own proof (the one-time token; the current key).
 */
export async function pkiRoutes(app: FastifyInstance, { pki }: { pki: Pki }): Promise<void> {
  app.post<{ Body: { campusId: string; agentId?: string; ttlMinutes: number } }>(
    '/api/v1/pki/enrollment-tokens',
    {
      config: { policy: 'pki.enrollment.issue' },
      schema: {
        summary: 'Issue a one-time enrollment token for an agent of one campus',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['campusId'],
          properties: {
            campusId: { type: 'string', pattern: ID_PATTERN },
            agentId: { type: 'string', pattern: ID_PATTERN, description: 'when given, the token enrolls only this agent' },
            ttlMinutes: { type: 'integer', minimum: 1, maximum: 10_080, default: 60 },
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['token', 'tokenId', 'caFingerprint', 'expiresAt'],
            properties: { token: { type: 'string' }, tokenId: { type: 'string' }, caFingerprint: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
          },
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const issued = await pki.issueEnrollmentToken(auditContextOf(request), request.body);
      return reply.code(201).send(issued);
    },
  );

  app.post<{ Body: EnrollRequest }>(
    '/api/v1/pki/enroll',
    {
      config: { policy: 'public' },
      schema: {
        summary: 'Enroll an agent: a one-time token and a CSR in, a client certificate out',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['token', 'agentId', 'csrPem'],
          properties: { token: { type: 'string', minLength: 10, maxLength: 200 }, agentId: { type: 'string', pattern: ID_PATTERN }, csrPem: PEM },
        },
        response: { 201: IssuedCertificate, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { actor: _anonymous, ...context } = auditContextOf(request);
      return reply.code(201).send(await pki.enroll(request.body, context));
    },
  );

  app.post<{ Body: RenewRequest }>(
    '/api/v1/pki/renew',
    {
      config: { policy: 'public' },
      schema: {
        summary: 'Renew an agent certificate: the current certificate, a CSR for the new key, and a signature by the current key',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['certificatePem', 'csrPem', 'signedAt', 'signature'],
          properties: {
            certificatePem: PEM,
            csrPem: PEM,
            signedAt: { type: 'string', format: 'date-time' },
            signature: { type: 'string', minLength: 16, maxLength: 2048 },
          },
        },
        response: { 201: IssuedCertificate, 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { actor: _anonymous, ...context } = auditContextOf(request);
      return reply.code(201).send(await pki.renew(request.body, context));
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; campusId?: string; agentId?: string } }>(
    '/api/v1/pki/certificates',
    {
      config: { policy: 'pki.certificates.read' },
      schema: {
        summary: 'Certificates the hub CA issued, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            cursor: { type: 'string', maxLength: 100 },
            campusId: { type: 'string', pattern: ID_PATTERN },
            agentId: { type: 'string', pattern: ID_PATTERN },
          },
        },
        response: {
          200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: CertificateItem }, nextCursor: { type: ['string', 'null'] } } },
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { limit, cursor, campusId, agentId } = request.query;
      const page = await pki.list({
        limit: limit + 1,
        ...(cursor ? { beforeSeq: decodeCursor(cursor) } : {}),
        ...(campusId ? { campusId } : {}),
        ...(agentId ? { agentId } : {}),
      });
      const items = page.items.slice(0, limit);
      const last = items.at(-1);
      return { items, nextCursor: page.items.length > limit && last ? encodeCursor(last.seq) : null };
    },
  );

  app.post<{ Params: { serial: string }; Body: { reason: string } }>(
    '/api/v1/pki/certificates/:serial/revoke',
    {
      config: { policy: 'pki.certificates.revoke' },
      schema: {
        summary: 'Revoke a certificate; a live MQTT session on the embedded broker is closed at once',
        params: { type: 'object', required: ['serial'], properties: { serial: { type: 'string', pattern: SERIAL_PATTERN } } },
        body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } },
        response: { 200: CertificateItem, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request) => pki.revoke(request.params.serial, request.body.reason, auditContextOf(request)),
  );

  app.get(
    '/api/v1/pki/ca',
    {
      config: { policy: 'public' },
      schema: {
        summary: 'The CA certificate (PEM) and its SHA-256 fingerprint, for brokers and agents',
        response: { 200: { type: 'object', required: ['caCertificatePem', 'caFingerprint'], properties: { caCertificatePem: { type: 'string' }, caFingerprint: { type: 'string' } } } },
      },
    },
    async () => ({ caCertificatePem: pki.caCertificatePem, caFingerprint: pki.caFingerprint }),
  );

  app.post<{ Body: { role: 'server' | 'hub'; csrPem: string; hostnames: string[] } }>(
    '/api/v1/pki/broker-certificates',
    {
      config: { policy: 'pki.broker-certificates.issue' },
      schema: {
        summary: 'Issue the certificate of an external broker (role server, with its host names) or of the hub\'s MQTT client (role hub)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['role', 'csrPem'],
          properties: {
            role: { type: 'string', enum: ['server', 'hub'] },
            csrPem: PEM,
            hostnames: { type: 'array', maxItems: 16, default: [], items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$' } },
          },
        },
        response: { 201: IssuedCertificate, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (request, reply) => {
      if (request.body.role === 'server' && request.body.hostnames.length === 0) throw new HttpError(400, 'invalid_request', 'a server certificate needs at least one host name');
      return reply.code(201).send(await pki.issueForBroker(request.body, auditContextOf(request)));
    },
  );
}
