import type { OwnedObject } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';
import { insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { findSectionOwner, findSession, findStudentOwner } from './queries.js';

interface RecordsState {
  sessionId: string;
  sessionObject: OwnedObject;
  /** The CS301 theory section's register, as the policy sees it. */
  sectionObject: OwnedObject;
  /** The student row each matrix user is, or an unlinked CS student for users who are none. */
  studentOf: Record<string, string>;
  owners: Record<string, OwnedObject>;
}

const UNLINKED_CS_STUDENT = CAMPUS_IDS.students[1]!;

async function linkedId(db: Queryable, table: 'students' | 'faculty', userId: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(`select id from ${table} where user_id = $1`, [userId]);
  return rows[0]?.id ?? null;
}

/** Links a matrix user unless another domain's setup already did. */
async function ensureLinked(db: Queryable, kind: 'student' | 'faculty', fallbackId: string, userId: string): Promise<string> {
  const existing = await linkedId(db, kind === 'student' ? 'students' : 'faculty', userId);
  if (existing) return existing;
  await linkUser(db, kind, fallbackId, userId);
  return fallbackId;
}

const state = (context: MatrixContext) => context.state.records as RecordsState;
const studentFor = (context: MatrixContext, target: TestUser) => state(context).studentOf[target.id] ?? UNLINKED_CS_STUDENT;

export const routeCases: RouteCases = {
  async setup(context) {
    const { db } = context.hub;
    const { users } = context;
    if ((await db.query(`select 1 from institutions where id = 'demo-univ'`)).rows.length === 0) await seedSmallCampus(db);
    const facultyId = await ensureLinked(db, 'faculty', CAMPUS_IDS.facultyCs, users.facultyCs!.id);
    const studentA = await ensureLinked(db, 'student', CAMPUS_IDS.students[0]!, users.studentA!.id);
    const studentB = await ensureLinked(db, 'student', CAMPUS_IDS.students[4]!, users.studentB!.id);
    // The matrix hub runs on the real clock: a lecture that is on now.
    const sessionId = await insertSession(db, { startsAt: Date.now() - 5 * 60_000, facultyId });
    const session = (await findSession(db, sessionId))!;
    const owners: Record<string, OwnedObject> = {};
    for (const studentId of [studentA, studentB, UNLINKED_CS_STUDENT]) {
      const owner = (await findStudentOwner(db, studentId))!;
      owners[studentId] = { ownerUserId: owner.userId, departmentId: owner.departmentId, facultyUserIds: owner.facultyUserIds };
    }
    const section = (await findSectionOwner(db, CAMPUS_IDS.theory))!;
    const records: RecordsState = {
      sessionId,
      sessionObject: { departmentId: session.departmentId, facultyUserIds: session.facultyUserIds },
      sectionObject: { departmentId: section.departmentId, facultyUserIds: section.facultyUserIds },
      studentOf: { [users.studentA!.id]: studentA, [users.studentB!.id]: studentB },
      owners,
    };
    context.state.records = records;
  },
  cases: {
    'GET /api/v1/sections/:id/records': {
      request: () => ({ path: `/api/v1/sections/${CAMPUS_IDS.theory}/records` }),
      object: (_target, context) => state(context).sectionObject,
      succeeded: statusIn([200]),
    },
    'POST /api/v1/sessions/:id/records': { audits: ['records.mark'],
      request: (context) => ({ path: `/api/v1/sessions/${state(context).sessionId}/records`, body: { studentId: UNLINKED_CS_STUDENT, status: 'present' } }),
      object: (_target, context) => state(context).sessionObject,
      succeeded: statusIn([201]),
    },
    'POST /api/v1/sessions/:id/records/bulk': { audits: ['records.bulk'],
      request: (context) => ({ path: `/api/v1/sessions/${state(context).sessionId}/records/bulk`, body: { status: 'present' } }),
      object: (_target, context) => state(context).sessionObject,
      succeeded: statusIn([200]),
    },
    'GET /api/v1/sessions/:id/records': {
      request: (context) => ({ path: `/api/v1/sessions/${state(context).sessionId}/records` }),
      object: (_target, context) => state(context).sessionObject,
      succeeded: statusIn([200]),
    },
    'GET /api/v1/sessions/:id/qr': {
      request: (context) => ({ path: `/api/v1/sessions/${state(context).sessionId}/qr` }),
      object: (_target, context) => state(context).sessionObject,
      succeeded: statusIn([200]),
    },
    'POST /api/v1/sessions/:id/scan': { audits: ['records.scan'],
      async request(context) {
        const { sessionId } = state(context);
        const { token } = (await (await context.hub.api(`/api/v1/sessions/${sessionId}/qr`)).json()) as { token: string };
        return { path: `/api/v1/sessions/${sessionId}/scan`, body: { token } };
      },
      // Let through: the first scan marks, later ones are refused as already recorded; a student of another department is not on the roll.
      succeeded: (response, body) => response.status === 201 || body.error === 'already_recorded' || body.error === 'not_enrolled',
    },
    'GET /api/v1/students/:id/records': {
      request: (context, _caller, target) => ({ path: `/api/v1/students/${studentFor(context, target)}/records?limit=5` }),
      object: (target, context) => state(context).owners[studentFor(context, target)]!,
      succeeded: statusIn([200]),
    },
    'GET /api/v1/sessions/:id/records/:studentId/history': {
      request: (context, _caller, target) => ({ path: `/api/v1/sessions/${state(context).sessionId}/records/${studentFor(context, target)}/history` }),
      object: (target, context) => state(context).owners[studentFor(context, target)]!,
      succeeded: statusIn([200]),
    },
    'GET /api/v1/unmatched-taps': { request: () => ({ path: '/api/v1/unmatched-taps?limit=5' }), succeeded: statusIn([200]) },
  },
};
