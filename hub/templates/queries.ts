import type { Queryable } from '../db/db.js';

export type ConsentStatus = 'none' | 'granted' | 'withdrawn';

export interface ConsentRecord {
  studentId: string;
  status: ConsentStatus;
  grantedAt: Date | null;
  grantedBy: string | null;
  withdrawnAt: Date | null;
  withdrawnBy: string | null;
  /** After a withdrawal, when every agent confirmed the templates gone from its devices. */
  removalConfirmedAt: Date | null;
}

export async function findConsent(q: Queryable, studentId: string, forUpdate = false): Promise<ConsentRecord> {
  const { rows } = await q.query<ConsentRecord>(
    `select student_id as "studentId", status, granted_at as "grantedAt", granted_by as "grantedBy", withdrawn_at as "withdrawnAt",
            withdrawn_by as "withdrawnBy", removal_confirmed_at as "removalConfirmedAt"
       from biometric_consents where student_id = $1${forUpdate ? ' for update' : ''}`,
    [studentId],
  );
  return rows[0] ?? { studentId, status: 'none', grantedAt: null, grantedBy: null, withdrawnAt: null, withdrawnBy: null, removalConfirmedAt: null };
}

export async function grantConsent(q: Queryable, studentId: string, by: string, at: Date): Promise<void> {
  await q.query(
    `insert into biometric_consents (student_id, status, granted_at, granted_by, updated_at) values ($1, 'granted', $3, $2, $3)
     on conflict (student_id) do update set status = 'granted', granted_at = $3, granted_by = $2, withdrawn_at = null, withdrawn_by = null,
       removal_confirmed_at = null, updated_at = $3`,
    [studentId, by, at],
  );
}

export async function withdrawConsent(q: Queryable, studentId: string, by: string, at: Date): Promise<void> {
  await q.query(
    `insert into biometric_consents (student_id, status, withdrawn_at, withdrawn_by, updated_at) values ($1, 'withdrawn', $3, $2, $3)
     on conflict (student_id) do update set status = 'withdrawn', withdrawn_at = $3, withdrawn_by = $2, removal_confirmed_at = null, updated_at = $3`,
    [studentId, by, at],
  );
}

export interface TemplateRecord {
  id: string;
  studentId: string;
  finger: number;
  format: string;
  quality: number | null;
  source: string;
  enrolledBy: string;
  enrolledAt: Date;
  deletedAt: Date | null;
  deletedReason: string | null;
}

const TEMPLATE_COLUMNS = `t.id, t.student_id as "studentId", t.finger, t.format, t.quality, t.source, t.enrolled_by as "enrolledBy",
  t.enrolled_at as "enrolledAt", t.deleted_at as "deletedAt", t.deleted_reason as "deletedReason"`;

export async function insertTemplate(q: Queryable, record: Omit<TemplateRecord, 'deletedAt' | 'deletedReason'>, sealed: Buffer): Promise<void> {
  await q.query(
    `insert into templates (id, student_id, finger, format, quality, sealed, source, enrolled_by, enrolled_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [record.id, record.studentId, record.finger, record.format, record.quality, sealed, record.source, record.enrolledBy, record.enrolledAt],
  );
}

export async function listTemplates(q: Queryable, studentId: string): Promise<TemplateRecord[]> {
  const { rows } = await q.query<TemplateRecord>(`select ${TEMPLATE_COLUMNS} from templates t where t.student_id = $1 order by t.enrolled_at desc, t.id`, [studentId]);
  return rows;
}

export async function findTemplate(q: Queryable, id: string): Promise<TemplateRecord | undefined> {
  const { rows } = await q.query<TemplateRecord>(`select ${TEMPLATE_COLUMNS} from templates t where t.id = $1`, [id]);
  return rows[0];
}

/** The student's current templates, locked. */
export async function currentTemplates(q: Queryable, studentId: string, finger?: number): Promise<TemplateRecord[]> {
  const { rows } = await q.query<TemplateRecord>(
    `select ${TEMPLATE_COLUMNS} from templates t where t.student_id = $1 and t.deleted_at is null and ($2::int is null or t.finger = $2) order by t.finger for update`,
    [studentId, finger ?? null],
  );
  return rows;
}

/** Clears the sealed bytes; the caller destroys the data key in the same transaction. */
export async function markTemplateDeleted(q: Queryable, id: string, at: Date, reason: string): Promise<void> {
  await q.query('update templates set sealed = null, deleted_at = $2, deleted_reason = $3 where id = $1 and deleted_at is null', [id, at, reason]);
}

export interface DeliverableTemplate {
  id: string;
  studentId: string;
  deviceUserId: string | null;
  finger: number;
  format: string;
  sealed: Uint8Array;
}

/**
 * The templates a campus's agents should hold: current, with consent
 * granted, of students on the roll of a session of that campus between
 * `from` and `to` (not cancelled).
 */
export async function templatesForCampus(q: Queryable, campusId: string, from: Date, to: Date): Promise<DeliverableTemplate[]> {
  const { rows } = await q.query<DeliverableTemplate>(
    `select t.id, t.student_id as "studentId", st.device_user_id as "deviceUserId", t.finger, t.format, t.sealed
       from templates t
       join biometric_consents c on c.student_id = t.student_id and c.status = 'granted'
       join students st on st.id = t.student_id
      where t.deleted_at is null
        and exists (select 1 from session_roll r join sessions s on s.id = r.session_id
                     where r.student_id = t.student_id and s.campus_id = $1 and s.state <> 'cancelled' and s.ends_at >= $2 and s.starts_at < $3)
      order by t.id`,
    [campusId, from, to],
  );
  return rows;
}

export interface Delivery {
  templateId: string;
  agentId: string;
  campusId: string;
  recipientKid: string;
  state: 'stored' | 'refused' | 'remove_pending' | 'removed';
}

export async function deliveriesOfAgent(q: Queryable, agentId: string): Promise<Delivery[]> {
  const { rows } = await q.query<Delivery>(
    `select template_id as "templateId", agent_id as "agentId", campus_id as "campusId", recipient_kid as "recipientKid", state from template_deliveries where agent_id = $1`,
    [agentId],
  );
  return rows;
}

export async function upsertDelivery(q: Queryable, delivery: Delivery, at: Date, detail: string | null = null): Promise<void> {
  await q.query(
    `insert into template_deliveries (template_id, campus_id, agent_id, recipient_kid, state, detail, updated_at) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (template_id, agent_id) do update set recipient_kid = excluded.recipient_kid, state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at`,
    [delivery.templateId, delivery.campusId, delivery.agentId, delivery.recipientKid, delivery.state, detail, at],
  );
}

export async function setDeliveryState(q: Queryable, templateIds: string[], agentId: string, state: Delivery['state'], at: Date): Promise<void> {
  if (templateIds.length === 0) return;
  await q.query('update template_deliveries set state = $3, updated_at = $4 where agent_id = $2 and template_id = any($1::uuid[])', [templateIds, agentId, state, at]);
}

/** Marks every delivery of these templates for removal; returns which agents must be told. */
export async function requestRemoval(q: Queryable, templateIds: string[], at: Date): Promise<{ agentId: string; campusId: string; templateIds: string[] }[]> {
  if (templateIds.length === 0) return [];
  await q.query(
    `update template_deliveries set state = case when state = 'refused' then 'removed' else 'remove_pending' end, updated_at = $2
      where template_id = any($1::uuid[]) and state in ('stored', 'refused')`,
    [templateIds, at],
  );
  return pendingRemovals(q, templateIds);
}

export async function pendingRemovals(q: Queryable, templateIds?: string[]): Promise<{ agentId: string; campusId: string; templateIds: string[] }[]> {
  const { rows } = await q.query<{ agentId: string; campusId: string; templateIds: string[] }>(
    `select agent_id as "agentId", min(campus_id) as "campusId", array_agg(template_id::text order by template_id) as "templateIds"
       from template_deliveries where state = 'remove_pending' and ($1::uuid[] is null or template_id = any($1::uuid[]))
      group by agent_id order by agent_id`,
    [templateIds ?? null],
  );
  return rows;
}

export interface DeviceSyncRow {
  templateId: string;
  campusId: string;
  deviceId: string;
  agentId: string;
  state: 'present' | 'failed' | 'removed';
  detail: string | null;
  updatedAt: Date;
}

export async function upsertDeviceSync(q: Queryable, row: Omit<DeviceSyncRow, 'updatedAt'>, at: Date): Promise<void> {
  await q.query(
    `insert into template_device_sync (template_id, campus_id, device_id, agent_id, state, detail, updated_at) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (template_id, campus_id, device_id) do update set agent_id = excluded.agent_id, state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at`,
    [row.templateId, row.campusId, row.deviceId, row.agentId, row.state, row.detail, at],
  );
}

export async function deviceSyncOf(q: Queryable, templateId: string): Promise<DeviceSyncRow[]> {
  const { rows } = await q.query<DeviceSyncRow>(
    `select template_id as "templateId", campus_id as "campusId", device_id as "deviceId", agent_id as "agentId", state, detail, updated_at as "updatedAt"
       from template_device_sync where template_id = $1 order by campus_id, device_id`,
    [templateId],
  );
  return rows;
}

/** Deliveries of the template not yet confirmed removed, with the agent. */
export async function deliveriesOf(q: Queryable, templateId: string): Promise<{ agentId: string; campusId: string; state: string; updatedAt: Date }[]> {
  const { rows } = await q.query<{ agentId: string; campusId: string; state: string; updatedAt: Date }>(
    `select agent_id as "agentId", campus_id as "campusId", state, updated_at as "updatedAt" from template_deliveries where template_id = $1 order by agent_id`,
    [templateId],
  );
  return rows;
}

/** Students whose withdrawn consent still waits for removals: nothing pending left means confirmed. */
export async function confirmableWithdrawals(q: Queryable, studentIds: string[]): Promise<string[]> {
  if (studentIds.length === 0) return [];
  const { rows } = await q.query<{ student_id: string }>(
    `select c.student_id from biometric_consents c
      where c.student_id = any($1::uuid[]) and c.status = 'withdrawn' and c.removal_confirmed_at is null
        and not exists (select 1 from template_deliveries d join templates t on t.id = d.template_id
                         where t.student_id = c.student_id and d.state = 'remove_pending')
        and not exists (select 1 from template_device_sync s join templates t on t.id = s.template_id
                         where t.student_id = c.student_id and s.state <> 'removed')`,
    [studentIds],
  );
  return rows.map((row) => row.student_id);
}

export async function confirmRemoval(q: Queryable, studentId: string, at: Date): Promise<void> {
  await q.query('update biometric_consents set removal_confirmed_at = $2 where student_id = $1 and removal_confirmed_at is null', [studentId, at]);
}

export async function studentsOfTemplates(q: Queryable, templateIds: string[]): Promise<string[]> {
  if (templateIds.length === 0) return [];
  const { rows } = await q.query<{ student_id: string }>('select distinct student_id from templates where id = any($1::uuid[])', [templateIds]);
  return rows.map((row) => row.student_id);
}

/** The agents of a campus that hold a valid certificate: the newest per agent, with its PEM. */
export async function agentCertificates(q: Queryable, campusId: string, at: Date): Promise<{ agentId: string; certificatePem: string }[]> {
  const { rows } = await q.query<{ agentId: string; certificatePem: string }>(
    `select distinct on (agent_id) agent_id as "agentId", certificate_pem as "certificatePem"
       from pki_certificates
      where kind = 'agent' and campus_id = $1 and revoked_at is null and not_before <= $2 and not_after > $2
      order by agent_id, issued_at desc`,
    [campusId, at],
  );
  return rows;
}

export async function agentCertificate(q: Queryable, agentId: string, at: Date): Promise<{ campusId: string; certificatePem: string } | undefined> {
  const { rows } = await q.query<{ campusId: string; certificatePem: string }>(
    `select campus_id as "campusId", certificate_pem as "certificatePem" from pki_certificates
      where kind = 'agent' and agent_id = $1 and revoked_at is null and not_before <= $2 and not_after > $2
      order by issued_at desc limit 1`,
    [agentId, at],
  );
  return rows[0];
}

/** How far the removal of a student's deleted templates has come. */
export async function removalProgress(q: Queryable, studentId: string): Promise<{ pendingAgents: number; devicesHolding: number }> {
  const { rows } = await q.query<{ pendingAgents: number; devicesHolding: number }>(
    `select (select count(distinct d.agent_id)::int from template_deliveries d join templates t on t.id = d.template_id
              where t.student_id = $1 and t.deleted_at is not null and d.state = 'remove_pending') as "pendingAgents",
            (select count(*)::int from template_device_sync s join templates t on t.id = s.template_id
              where t.student_id = $1 and t.deleted_at is not null and s.state <> 'removed') as "devicesHolding"`,
    [studentId],
  );
  return rows[0]!;
}
