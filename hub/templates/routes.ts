import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EnvelopeError, ID_PATTERN, templateContext, type CommandResult } from '../../protocol/index.js';
import { appendAudit, auditContextOf, type AuditContext } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import { destroyDataKey, sealOwned, type Keyring } from '../keys/index.js';
import { findStudentOwner } from '../records/queries.js';
import { UnknownAgentError, type AgentRegistry } from '../agents/registry.js';
import { TEMPLATE_OWNER, type TemplateDistributor } from './distribution.js';
import type { TemplateIntake } from './intake.js';
import {
  currentTemplates,
  deliveriesOf,
  deviceSyncOf,
  findConsent,
  findTemplate,
  grantConsent,
  insertTemplate,
  listTemplates,
  markTemplateDeleted,
  removalProgress,
  requestRemoval,
  withdrawConsent,
  type TemplateRecord,
} from './queries.js';

const UUID = { type: 'string', format: 'uuid' } as const;
const TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' } as const;
const NULLABLE_TEXT = { type: ['string', 'null'] } as const;
const IdParams = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
const Reason = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 3, maxLength: 500 } } } as const;
/** Largest template accepted, decoded: ZK and R30x templates are 0.5–2 kB, ISO 19794-2 records rarely above 4 kB. */
const MAX_TEMPLATE_BYTES = 8192;

const ConsentView = {
  type: 'object',
  required: ['studentId', 'status', 'removal'],
  properties: {
    studentId: UUID,
    status: { type: 'string', enum: ['none', 'granted', 'withdrawn'] },
    grantedAt: NULLABLE_TIME,
    grantedBy: NULLABLE_TEXT,
    withdrawnAt: NULLABLE_TIME,
    withdrawnBy: NULLABLE_TEXT,
    removal: {
      type: 'object',
      description: 'after a withdrawal: agents yet to confirm, devices that may still hold a template, and when all confirmed',
      properties: { pendingAgents: { type: 'integer' }, devicesHolding: { type: 'integer' }, confirmedAt: NULLABLE_TIME },
    },
  },
} as const;

const TemplateView = {
  type: 'object',
  required: ['id', 'studentId', 'finger', 'format', 'status'],
  properties: {
    id: UUID,
    studentId: UUID,
    finger: { type: 'integer', minimum: 0, maximum: 9 },
    format: { type: 'string' },
    quality: { type: ['integer', 'null'] },
    source: { type: 'string' },
    status: { type: 'string', enum: ['current', 'deleted'] },
    enrolledBy: { type: 'string' },
    enrolledAt: TIME,
    deletedAt: NULLABLE_TIME,
    deletedReason: NULLABLE_TEXT,
  },
} as const;

/** Metadata only: the template itself never leaves the hub through the API. */
function templateView(record: TemplateRecord) {
  const { deletedAt, ...rest } = record;
  return { ...rest, status: deletedAt ? 'deleted' : 'current', deletedAt };
}

export interface TemplateRouteOptions {
  db: Db;
  keyring: Keyring;
  distributor: TemplateDistributor;
  registry: Pick<AgentRegistry, 'sendCommand'>;
  intake: TemplateIntake;
  now: () => number;
}

export async function templateRoutes(app: FastifyInstance, { db, keyring, distributor, registry, intake, now }: TemplateRouteOptions): Promise<void> {
  const removals = new Set<Promise<void>>();
  // Removals run after the request; a stopping hub lets them finish (or time out) first.
  app.addHook('onClose', async () => {
    await Promise.allSettled([...removals]);
  });
  const removeInBackground = (context: AuditContext, templateIds: string[]) => {
    if (templateIds.length === 0) return;
    const removal = distributor
      .sendRemovals(context, templateIds)
      .catch((error: Error) => app.log.error({ err: error.message }, 'sending template removals failed; they are sent again at the next distribution'))
      .finally(() => removals.delete(removal));
    removals.add(removal);
  };

  async function authorizeStudent(request: FastifyRequest, studentId: string): Promise<void> {
    const owner = await findStudentOwner(db, studentId);
    request.authorize({ ownerUserId: owner?.userId ?? null, departmentId: owner?.departmentId ?? null, facultyUserIds: owner?.facultyUserIds ?? [] });
    if (!owner) throw new HttpError(404, 'not_found', 'no such object');
  }

  async function consentView(q: Queryable, studentId: string) {
    const consent = await findConsent(q, studentId);
    const { removalConfirmedAt, ...rest } = consent;
    return { ...rest, removal: { ...(await removalProgress(q, studentId)), confirmedAt: removalConfirmedAt } };
  }

  /** Deletes templates in `tx`: bytes cleared, data keys destroyed, every delivery marked for removal. */
  async function deleteTemplates(tx: Queryable, templates: TemplateRecord[], reason: string, at: Date): Promise<string[]> {
    for (const template of templates) {
      await markTemplateDeleted(tx, template.id, at, reason);
      await destroyDataKey(tx, TEMPLATE_OWNER(template.id));
    }
    const ids = templates.map((template) => template.id);
    await requestRemoval(tx, ids, at);
    return ids;
  }

  app.get<{ Params: { id: string } }>(
    '/api/v1/students/:id/biometric-consent',
    {
      config: { policy: 'consent.read' },
      schema: { summary: 'A student\'s biometric consent, and after a withdrawal how far removal from devices has come', params: IdParams, response: { 200: ConsentView, 404: ErrorResponse } },
    },
    async (request) => {
      await authorizeStudent(request, request.params.id);
      return consentView(db, request.params.id);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/students/:id/biometric-consent/grant',
    {
      config: { policy: 'consent.manage' },
      schema: {
        summary: 'Record the student\'s consent to fingerprint attendance. Biometrics are opt-in; QR and card stay equal alternatives.',
        params: IdParams,
        body: Reason,
        response: { 200: ConsentView, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request) => {
      const studentId = request.params.id;
      await authorizeStudent(request, studentId);
      return db.transaction(async (tx) => {
        const before = await findConsent(tx, studentId, true);
        if (before.status === 'granted') throw new HttpError(409, 'already_granted', 'consent is already on record');
        const at = new Date(now());
        await grantConsent(tx, studentId, request.principal!.id, at);
        await appendAudit(tx, { ...auditContextOf(request), action: 'consent.grant', target: `student:${studentId}`, before: { status: before.status }, after: { status: 'granted' }, reason: request.body?.reason ?? null });
        return consentView(tx, studentId);
      });
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/students/:id/biometric-consent/withdraw',
    {
      config: { policy: 'consent.manage' },
      schema: {
        summary: 'Withdraw biometric consent: every template of the student is deleted here (crypto-shredded) and removed from every agent and device',
        params: IdParams,
        body: Reason,
        response: { 200: ConsentView, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request) => {
      const studentId = request.params.id;
      await authorizeStudent(request, studentId);
      const context = auditContextOf(request);
      const { view, templateIds } = await db.transaction(async (tx) => {
        const before = await findConsent(tx, studentId, true);
        if (before.status !== 'granted') throw new HttpError(409, 'not_granted', 'there is no consent on record to withdraw');
        const at = new Date(now());
        await withdrawConsent(tx, studentId, request.principal!.id, at);
        const ids = await deleteTemplates(tx, await currentTemplates(tx, studentId), 'consent withdrawn', at);
        await appendAudit(tx, { ...context, action: 'consent.withdraw', target: `student:${studentId}`, before: { status: 'granted' }, after: { status: 'withdrawn', templatesDeleted: ids }, reason: request.body?.reason ?? null });
        // When nothing was ever sent anywhere, the removal is complete now.
        await distributor.confirmWithdrawals(tx, [studentId], at);
        return { view: await consentView(tx, studentId), templateIds: ids };
      });
      removeInBackground(context, templateIds);
      return view;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/students/:id/templates',
    {
      config: { policy: 'templates.read' },
      schema: {
        summary: 'A student\'s fingerprint enrollments, current and deleted (metadata only)',
        params: IdParams,
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: TemplateView } } }, 404: ErrorResponse },
      },
    },
    async (request) => {
      await authorizeStudent(request, request.params.id);
      return { items: (await listTemplates(db, request.params.id)).map(templateView) };
    },
  );

  app.post<{ Params: { id: string }; Body: { finger: number; format: string; quality?: number; template: string; source?: string } }>(
    '/api/v1/students/:id/templates',
    {
      config: { policy: 'templates.enroll' },
      schema: {
        summary: 'Store a fingerprint template (sealed at once; never readable through the API). Needs the student\'s consent; replaces the same finger\'s template.',
        params: IdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['finger', 'format', 'template'],
          properties: {
            finger: { type: 'integer', minimum: 0, maximum: 9, description: '0–9, right thumb first' },
            format: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9.]+)*$', maxLength: 40, description: 'e.g. zk-bio10 (ZK terminals), r30x-char (R30x modules), iso19794-2' },
            quality: { type: 'integer', minimum: 0, maximum: 100 },
            template: { type: 'string', minLength: 4, maxLength: Math.ceil(MAX_TEMPLATE_BYTES / 3) * 4, description: 'base64 of the template bytes' },
            source: { type: 'string', pattern: ID_PATTERN, description: 'where it was captured, e.g. a device id; default `api`' },
          },
        },
        response: { 201: TemplateView, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const studentId = request.params.id;
      await authorizeStudent(request, studentId);
      const { finger, format, quality, source } = request.body;
      const bytes = Buffer.from(request.body.template, 'base64');
      if (bytes.length === 0 || bytes.toString('base64').replace(/=+$/, '') !== request.body.template.replace(/=+$/, '')) {
        throw new HttpError(400, 'invalid_template', 'template must be base64 of the template bytes', { path: '/template' });
      }
      try {
        const record = await storeTemplate(request, { id: randomUUID(), studentId, finger, format, quality: quality ?? null, source: source ?? 'api' }, bytes);
        return reply.code(201).send(templateView(record));
      } finally {
        bytes.fill(0);
      }
    },
  );

  const refuseWithoutConsent = async (q: Queryable, studentId: string, forUpdate: boolean) => {
    if ((await findConsent(q, studentId, forUpdate)).status !== 'granted') {
      throw new HttpError(409, 'consent_required', 'the student\'s biometric consent is not on record; fingerprints are opt-in');
    }
  };

  /** Seals and stores a new template (consent checked again, under lock), replacing the finger's current one. */
  async function storeTemplate(request: FastifyRequest, template: Pick<TemplateRecord, 'id' | 'studentId' | 'finger' | 'format' | 'quality' | 'source'>, bytes: Buffer): Promise<TemplateRecord> {
    const context = auditContextOf(request);
    const { record, replaced } = await db.transaction(async (tx) => {
      await refuseWithoutConsent(tx, template.studentId, true);
      const at = new Date(now());
      const replacedIds = await deleteTemplates(tx, await currentTemplates(tx, template.studentId, template.finger), 'replaced', at);
      const sealed = await sealOwned(tx, keyring, TEMPLATE_OWNER(template.id), templateContext({ ...template, templateId: template.id }), bytes);
      const created = { ...template, enrolledBy: request.principal!.id, enrolledAt: at };
      await insertTemplate(tx, created, sealed);
      await appendAudit(tx, {
        ...context,
        action: 'templates.enroll',
        target: `student:${template.studentId}`,
        after: { templateId: template.id, finger: template.finger, format: template.format, quality: template.quality, source: template.source, replaced: replacedIds },
      });
      return { record: { ...created, deletedAt: null, deletedReason: null }, replaced: replacedIds };
    });
    removeInBackground(context, replaced);
    return record;
  }

  app.post<{ Params: { id: string }; Body: { agentId: string; deviceId: string; finger: number; slot?: number; quality?: number } }>(
    '/api/v1/students/:id/templates/capture',
    {
      config: { policy: 'templates.enroll' },
      schema: {
        summary: 'Take a finger enrolled at a door device into the hub: only with the student\'s consent on record. The agent seals it for the hub\'s intake key.',
        params: IdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['agentId', 'deviceId', 'finger'],
          properties: {
            agentId: { type: 'string', pattern: ID_PATTERN },
            deviceId: { type: 'string', pattern: ID_PATTERN },
            finger: { type: 'integer', minimum: 0, maximum: 9 },
            slot: { type: 'integer', minimum: 0, maximum: 65535, description: 'for a fingerprint module: the library slot it was enrolled at' },
            quality: { type: 'integer', minimum: 0, maximum: 100 },
          },
        },
        response: { 201: TemplateView, 400: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 502: ErrorResponse, 504: ErrorResponse },
      },
    },
    async (request, reply) => {
      const studentId = request.params.id;
      await authorizeStudent(request, studentId);
      const { agentId, deviceId, finger, slot, quality } = request.body;
      // Before anything is read from the device: no consent, no template.
      await refuseWithoutConsent(db, studentId, false);
      const { rows } = await db.query<{ device_user_id: string | null }>('select device_user_id from students where id = $1', [studentId]);
      const subject = slot !== undefined ? String(slot) : rows[0]?.device_user_id;
      if (!subject) throw new HttpError(400, 'no_device_user', 'the student has no device user id; give the module slot', { path: '/slot' });
      const templateId = randomUUID();
      const params = { deviceId, subject, finger, templateId, studentId, intakePublicKey: await intake.publicKeyPem() };
      let outcome;
      try {
        // The command record keeps the format, not the sealed template.
        outcome = await registry.sendCommand(agentId, 'templates.capture', params, auditContextOf(request), 'enrollment capture', {
          result: (result) => ({ format: (result as { format?: unknown }).format }),
        });
      } catch (error) {
        if (error instanceof UnknownAgentError) throw new HttpError(404, 'unknown_agent', error.message);
        throw error;
      }
      if (outcome.status === 'timeout') throw new HttpError(504, 'agent_timeout', `agent ${agentId} did not answer in time`);
      if (outcome.status !== 'ok') throw new HttpError(502, 'capture_failed', `agent ${agentId}: ${outcome.error?.message ?? 'failed'}`, { code: outcome.error?.code ?? null });
      const captured = outcome.result as CommandResult<'templates.capture'>;
      let bytes: Buffer;
      try {
        bytes = await intake.open(captured.envelope, templateContext({ templateId, studentId, finger, format: captured.format }));
      } catch (error) {
        if (error instanceof EnvelopeError) throw new HttpError(502, 'capture_failed', `the template from agent ${agentId} did not open: ${error.message}`);
        throw error;
      }
      try {
        const record = await storeTemplate(request, { id: templateId, studentId, finger, format: captured.format, quality: quality ?? null, source: deviceId }, bytes);
        return reply.code(201).send(templateView(record));
      } finally {
        bytes.fill(0);
      }
    },
  );

  app.delete<{ Params: { id: string }; Querystring: { reason?: string } }>(
    '/api/v1/templates/:id',
    {
      config: { policy: 'templates.delete' },
      schema: {
        summary: 'Delete a template: its key is destroyed here, and every agent is told to remove it from its vault and devices',
        params: IdParams,
        querystring: Reason,
        response: { 200: TemplateView, 404: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request) => {
      const context = auditContextOf(request);
      const record = await db.transaction(async (tx) => {
        const template = await findTemplate(tx, request.params.id);
        if (!template) throw new HttpError(404, 'not_found', 'no such object');
        if (template.deletedAt) throw new HttpError(409, 'already_deleted', 'the template is deleted already');
        const at = new Date(now());
        await deleteTemplates(tx, [template], request.query.reason ?? 'deleted', at);
        await appendAudit(tx, { ...context, action: 'templates.delete', target: `template:${template.id}`, before: { studentId: template.studentId, finger: template.finger }, reason: request.query.reason ?? null });
        return (await findTemplate(tx, template.id))!;
      });
      removeInBackground(context, [record.id]);
      return templateView(record);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/templates/:id/sync',
    {
      config: { policy: 'templates.distribute' },
      schema: {
        summary: 'Where a template is: each agent it was sent to, and each device as its agent last reported',
        params: IdParams,
        response: {
          200: {
            type: 'object',
            required: ['agents', 'devices'],
            properties: {
              agents: {
                type: 'array',
                items: { type: 'object', properties: { agentId: { type: 'string' }, campusId: { type: 'string' }, state: { type: 'string' }, updatedAt: TIME } },
              },
              devices: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    campusId: { type: 'string' },
                    deviceId: { type: 'string' },
                    agentId: { type: 'string' },
                    state: { type: 'string', enum: ['present', 'failed', 'removed'] },
                    detail: NULLABLE_TEXT,
                    updatedAt: TIME,
                  },
                },
              },
            },
          },
          404: ErrorResponse,
        },
      },
    },
    async (request) => {
      if (!(await findTemplate(db, request.params.id))) throw new HttpError(404, 'not_found', 'no such object');
      return { agents: await deliveriesOf(db, request.params.id), devices: await deviceSyncOf(db, request.params.id) };
    },
  );

  app.post<{ Body: { campusId: string } }>(
    '/api/v1/templates/distribute',
    {
      config: { policy: 'templates.distribute' },
      schema: {
        summary: 'Bring every agent of a campus to the templates it should hold (students with consent and sessions there), and send pending removals',
        body: { type: 'object', additionalProperties: false, required: ['campusId'], properties: { campusId: { type: 'string', pattern: ID_PATTERN } } },
        response: {
          200: {
            type: 'object',
            required: ['agents'],
            properties: {
              agents: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    agentId: { type: 'string' },
                    status: { type: 'string', enum: ['ok', 'error', 'timeout', 'unknown_agent'] },
                    sent: { type: 'integer' },
                    stored: { type: 'integer' },
                    refused: { type: 'integer' },
                    removed: { type: 'integer' },
                  },
                },
              },
            },
          },
          400: ErrorResponse,
        },
      },
    },
    async (request) => {
      const { rows } = await db.query('select 1 from campuses where id = $1', [request.body.campusId]);
      if (rows.length === 0) throw new HttpError(400, 'unknown_campus', `no campus "${request.body.campusId}"`, { path: '/campusId' });
      return { agents: await distributor.distributeToCampus(request.body.campusId, auditContextOf(request)) };
    },
  );
}
