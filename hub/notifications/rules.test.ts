import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { recordMarks } from '../ledger/ledger.js';
import { FIRST_LECTURE_START, insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub } from '../../test/support/hub.js';
import { createTestUser } from '../../test/support/users.js';
import { heldToDatePercent, notifyOnFinalize, notifySessionFlags, type NotificationRules } from './rules.js';

const DAY = 86_400_000;
const RULES: NotificationRules = { guardianOnAbsence: true, consecutiveAbsences: 3, belowThresholdPercent: 75 };
const ROUTING = { webhooks: [], email: false };

test('absences raise guardian notices, a consecutive-absence warning and a below-threshold warning; leave breaks the run and raises nothing', async (t) => {
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 } });
  const { db } = hub;
  await seedSmallCampus(db);
  const [absentee, onLeave] = [CAMPUS_IDS.students[0]!, CAMPUS_IDS.students[1]!];
  const absenteeUser = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  const onLeaveUser = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(db, 'student', absentee, absenteeUser.id);
  await linkUser(db, 'student', onLeave, onLeaveUser.id);

  // Four lectures on four days: the absentee misses all; the other misses two, is on approved leave for the third, misses the fourth.
  for (let day = 0; day < 4; day++) {
    const startsAt = FIRST_LECTURE_START + day * DAY;
    const sessionId = await insertSession(db, { startsAt, state: 'closed', finalized: true });
    await db.transaction(async (tx) => {
      await recordMarks(
        tx,
        [
          { sessionId, studentId: absentee, status: 'absent', source: 'automatic', actor: 'system:finalize' },
          day === 2
            ? { sessionId, studentId: onLeave, status: 'excused', source: 'leave', actor: 'system:leave' }
            : { sessionId, studentId: onLeave, status: 'absent', source: 'automatic', actor: 'system:finalize' },
        ],
        startsAt + 3 * 3_600_000,
      );
      await notifyOnFinalize(tx, ROUTING, RULES, sessionId, new Date(startsAt + 3 * 3_600_000));
      // Finalization hooks may run again (a retried transaction): nothing is raised twice.
      await notifyOnFinalize(tx, ROUTING, RULES, sessionId, new Date(startsAt + 3 * 3_600_000));
    });
  }

  const raised = async (recipient: string) =>
    (await db.query<{ kind: string }>('select kind from notifications where recipient = $1 order by created_at, kind', [recipient])).rows.map((row) => row.kind);
  assert.deepEqual(await raised(`guardian:${absentee}`), ['absence.guardian', 'absence.guardian', 'absence.guardian', 'absence.guardian']);
  assert.deepEqual(await raised(`guardian:${onLeave}`), ['absence.guardian', 'absence.guardian', 'absence.guardian'], 'no notice for the day on leave');
  assert.deepEqual(await raised(absenteeUser.id), [
    'attendance.below_threshold',
    'attendance.below_threshold',
    'absence.consecutive',
    'attendance.below_threshold',
    'absence.consecutive',
    'attendance.below_threshold',
  ]);
  assert.deepEqual(await raised(onLeaveUser.id), ['attendance.below_threshold', 'attendance.below_threshold', 'attendance.below_threshold'], 'leave broke the run of absences');
  assert.equal(await heldToDatePercent(db, absentee, CAMPUS_IDS.theory), 0);
  assert.equal(await heldToDatePercent(db, onLeave, CAMPUS_IDS.theory), 0, 'the excused day is out of the denominator, not attended');

  const inbox = (await (await absenteeUser.api('/api/v1/notifications?limit=2')).json()) as { items: { kind: string; body: { percent?: number } }[]; nextCursor: string };
  assert.equal(inbox.items.length, 2);
  const rest = (await (await absenteeUser.api(`/api/v1/notifications?limit=10&cursor=${inbox.nextCursor}`)).json()) as { items: unknown[]; nextCursor: null };
  assert.equal(rest.items.length, 4);
  assert.equal(rest.nextCursor, null);
});

test('a session not taken tells its teacher, and its escalation tells the HODs, once each', async (t) => {
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 } });
  const { db } = hub;
  await seedSmallCampus(db);
  const teacher = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  await linkUser(db, 'faculty', CAMPUS_IDS.facultyCs, teacher.id);
  const sessionId = await insertSession(db, { state: 'closed', finalized: true });
  const at = new Date(FIRST_LECTURE_START + DAY);
  await db.query(`insert into session_flags (id, session_id, kind, details, created_at) values ($1, $2, 'not_taken', '{}', $3)`, [randomUUID(), sessionId, at]);
  await db.transaction((tx) => notifySessionFlags(tx, ROUTING, at));
  await db.query(`insert into session_flags (id, session_id, kind, details, created_at) values ($1, $2, 'escalated', $3, $4)`, [
    randomUUID(),
    sessionId,
    JSON.stringify({ departmentIds: ['cs'], hodUserIds: [hod.id] }),
    at,
  ]);
  await db.transaction((tx) => notifySessionFlags(tx, ROUTING, at));
  await db.transaction((tx) => notifySessionFlags(tx, ROUTING, at));
  const { rows } = await db.query<{ kind: string; recipient: string }>('select kind, recipient from notifications order by kind');
  assert.deepEqual(rows, [
    { kind: 'session.not_taken', recipient: teacher.id },
    { kind: 'session.not_taken.escalated', recipient: hod.id },
  ]);
});
