import { appendAudit, type AuditContext } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import { destroyDataKey } from '../keys/dataKeys.js';

/**
 * Data-subject rights for students (docs/audit.md, "Data-subject rights"): everything the hub
 * holds about one, as a bundle; and erasure, which pseudonymizes the
 * operational rows and destroys the person's data key. Attendance, audit and
 * notification rows refer to people by ids only, so they stay, and the audit
 * chain still verifies.
 */
export interface PersonBundle {
  format: 'campushub-person-export/1';
  exportedAt: string;
  student: Record<string, unknown>;
  user: Record<string, unknown> | null;
  enrolments: unknown[];
  attendance: unknown[];
  attendanceEvents: unknown[];
  notifications: unknown[];
  auditEntries: unknown[];
}

const SEALED_FIELDS = { email: 'email_sealed', phone: 'phone_sealed', guardian: 'guardian_sealed' } as const;

export async function exportPerson(db: Queryable, fields: FieldCipher, studentId: string, at: Date): Promise<PersonBundle> {
  const { rows: students } = await db.query<Record<string, unknown> & { user_id: string | null }>(
    `select id, roll_no, name, batch_id, section_label, enrolment_date::text as enrolment_date, id_card_no, device_user_id, user_id, status from students where id = $1`,
    [studentId],
  );
  const student = students[0];
  if (!student) throw new HttpError(404, 'not_found', 'no such object');
  const userId = student.user_id;
  let user: Record<string, unknown> | null = null;
  if (userId) {
    const { rows } = await db.query<Record<string, unknown> & Record<(typeof SEALED_FIELDS)[keyof typeof SEALED_FIELDS], Buffer | null>>(
      `select id, username, display_name, role, department_id, status, created_at, email_sealed, phone_sealed, guardian_sealed from users where id = $1`,
      [userId],
    );
    const row = rows[0]!;
    const personal: Record<string, string | null> = {};
    for (const [field, column] of Object.entries(SEALED_FIELDS)) {
      const sealed = row[column];
      personal[field] = sealed ? await fields.open(db, `user:${userId}`, field, sealed) : null;
    }
    user = { id: row.id, username: row.username, displayName: row.display_name, role: row.role, departmentId: row.department_id, status: row.status, createdAt: row.created_at, ...personal };
  }
  const all = async (sql: string, params: unknown[]) => (await db.query(sql, params)).rows;
  const subjects = [`student:${studentId}`, ...(userId ? [`user:${userId}`] : [])];
  return {
    format: 'campushub-person-export/1',
    exportedAt: at.toISOString(),
    student,
    user,
    enrolments: await all(`select section_id, subgroup_id, enrolled_on::text as enrolled_on, dropped_on::text as dropped_on from enrolments where student_id = $1 order by enrolled_on`, [studentId]),
    attendance: await all(
      `select c.session_id, s.starts_at, c.status, c.source, c.updated_at from attendance_current c join sessions s on s.id = c.session_id where c.student_id = $1 and c.status is not null order by s.starts_at`,
      [studentId],
    ),
    attendanceEvents: await all(`select id, session_id, status, source, actor, device_id, recorded_at, reason from attendance_events where student_id = $1 order by recorded_at, id`, [studentId]),
    notifications: userId ? await all(`select id, kind, title, body, created_at, read_at from notifications where recipient = $1 or recipient = $2 order by created_at`, [userId, `guardian:${studentId}`]) : [],
    auditEntries: await all(
      `select id::text as id, seq::text as seq, at, actor, action, target, before, after, reason, outcome from audit_log
        where target = any ($1::text[]) or actor = $2 or after->>'studentId' = $3 order by audit_log.id`,
      [subjects, userId ?? '', studentId],
    ),
  };
}

/**
 * Erases a student: name, roll number, card and device ids, the account's
 * username, display name and sealed fields become placeholders or null, the
 * user's data key is destroyed (so any copy of the sealed fields, in a
 * backup say, cannot be opened), sign-ins end, and an audit entry records
 * the erasure by ids only. Idempotent.
 */
export async function erasePerson(db: Db, studentId: string, audit: AuditContext & { reason: string }, at: Date): Promise<{ userId: string | null; keyDestroyed: boolean }> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ userId: string | null }>(
      `update students set name = 'erased', roll_no = 'erased-' || id::text, id_card_no = null, device_user_id = null, status = 'inactive'
        where id = $1 returning user_id as "userId"`,
      [studentId],
    );
    if (!rows[0]) throw new HttpError(404, 'not_found', 'no such object');
    const { userId } = rows[0];
    let keyDestroyed = false;
    if (userId) {
      await tx.query(
        `update users set username = 'erased-' || id::text, display_name = 'erased', email_sealed = null, phone_sealed = null, guardian_sealed = null,
                password_hash = null, status = 'disabled', session_epoch = session_epoch + 1, updated_at = $2 where id = $1`,
        [userId, at],
      );
      await tx.query('delete from refresh_families where user_id = $1', [userId]);
      await tx.query('delete from notification_preferences where user_id = $1', [userId]);
      keyDestroyed = await destroyDataKey(tx, `user:${userId}`);
    }
    await appendAudit(tx, { ...audit, action: 'privacy.erase', target: `student:${studentId}`, after: { userId, keyDestroyed }, reason: audit.reason });
    return { userId, keyDestroyed };
  });
}
