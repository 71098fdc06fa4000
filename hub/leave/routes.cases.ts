import { randomUUID } from 'node:crypto';
import type { OwnedObject } from '../auth/rules.js';
import { hubDefaults } from '../config.js';
import { storeEvidence } from '../corrections/evidence.js';
import { findStudentOwner } from '../records/queries.js';
import { addDays } from '../sessions/localTime.js';
import { ensureCampus } from '../sessions/routes.cases.js';
import { CAMPUS_IDS } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { leaveOwners } from './queries.js';

/**
 * One leave request per matrix user, applied by that user (for their own
 * student row, or for a CS student nobody is linked to), each with a
 * document. The matrix runs on the real clock, so a term around today is
 * added for the applications it makes.
 */
interface LeaveState {
  leaveOf: Record<string, string>;
  objectOf: Record<string, OwnedObject>;
  studentOf: Record<string, string>;
  studentObjectOf: Record<string, OwnedObject>;
  documentSha256: string;
  today: string;
}

const UNLINKED_CS_STUDENT = CAMPUS_IDS.students[2]!;
const PDF = Buffer.from('%PDF-1.4\n% matrix\n');
const state = (context: MatrixContext) => context.state.leave as LeaveState;
const leaveFor = (context: MatrixContext, target: TestUser) => state(context).leaveOf[target.id]!;
const leavePath = (context: MatrixContext, target: TestUser, suffix = '') => ({ path: `/api/v1/leave/${leaveFor(context, target)}${suffix}` });
const leaveObject = (target: TestUser, context: MatrixContext) => state(context).objectOf[target.id]!;
/** State-changing calls on one request: the first that the policy lets through decides it, later ones are refused as illegal transitions. */
const decidedOrRefused = statusIn([200, 201, 409]);

export const routeCases: RouteCases = {
  async setup(context) {
    await ensureCampus(context);
    const { db } = context.hub;
    const today = new Date().toISOString().slice(0, 10);
    await db.query(`insert into terms (id, institution_id, name, starts_on, ends_on) values ('matrix-leave', 'demo-univ', 'Matrix term', $1, $2) on conflict do nothing`, [
      addDays(today, -40),
      addDays(today, 60),
    ]);
    const { sha256 } = await storeEvidence(db, hubDefaults().corrections, { filename: 'm.pdf', contentType: 'application/pdf', contentBase64: PDF.toString('base64') }, Date.now());
    const leaveState: LeaveState = { leaveOf: {}, objectOf: {}, studentOf: {}, studentObjectOf: {}, documentSha256: sha256, today };
    for (const user of Object.values(context.users)) {
      const linked = await db.query<{ id: string }>('select id from students where user_id = $1', [user.id]);
      const studentId = linked.rows[0]?.id ?? UNLINKED_CS_STUDENT;
      const id = randomUUID();
      const from = addDays(today, -30);
      await db.query(
        `insert into leave_requests (id, type_id, term_id, applicant_user_id, from_date, to_date, days, reason, state, approval_chain, created_at, updated_at)
         values ($1, 'medical', 'matrix-leave', $2, $3, $3, 1, 'matrix', 'pending', array['teacher', 'hod'], now(), now())`,
        [id, user.id, from],
      );
      await db.query('insert into leave_request_students (leave_id, student_id) values ($1, $2)', [id, studentId]);
      await db.query(`insert into leave_documents (leave_id, sha256, filename, uploaded_by, created_at) values ($1, $2, 'm.pdf', $3, now())`, [id, sha256, user.id]);
      const owners = (await leaveOwners(db, id))!;
      const student = (await findStudentOwner(db, studentId))!;
      leaveState.leaveOf[user.id] = id;
      leaveState.objectOf[user.id] = { ownerUserId: owners.applicantUserId, ...owners };
      leaveState.studentOf[user.id] = studentId;
      leaveState.studentObjectOf[user.id] = { ownerUserId: student.userId, departmentId: student.departmentId, facultyUserIds: student.facultyUserIds };
    }
    context.state.leave = leaveState;
  },
  cases: {
    'GET /api/v1/leave/types': { request: () => ({ path: '/api/v1/leave/types' }), succeeded: statusIn([200]) },
    'PUT /api/v1/leave/types/:id': { audits: ['leave.type.save'],
      request: () => ({
        path: '/api/v1/leave/types/matrix_type',
        body: { name: 'Matrix', effect: 'excluded', documentsRequired: false, maxDays: 2, termCapDays: 4, approvalChain: ['hod'], facultyMayApply: true },
      }),
      succeeded: statusIn([200]),
    },
    'POST /api/v1/leave': { audits: ['leave.apply'],
      // A student applies for themselves; staff for the unlinked CS student; a second application overlaps the first.
      request: (context, caller) => ({
        path: '/api/v1/leave',
        body: {
          typeId: 'on_duty',
          ...(caller.principal.role === 'student' ? {} : { studentIds: [UNLINKED_CS_STUDENT] }),
          fromDate: state(context).today,
          toDate: state(context).today,
          reason: 'matrix',
        },
      }),
      succeeded: (response, body) => response.status === 201 || body.error === 'overlapping_leave',
    },
    'GET /api/v1/leave': { request: () => ({ path: '/api/v1/leave?limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/leave/report': { request: () => ({ path: '/api/v1/leave/report?termId=matrix-leave' }), succeeded: statusIn([200]) },
    'GET /api/v1/leave/:id': { request: (context, _caller, target) => leavePath(context, target), object: leaveObject, succeeded: statusIn([200]) },
    'GET /api/v1/leave/:id/impact': { request: (context, _caller, target) => leavePath(context, target, '/impact'), object: leaveObject, succeeded: statusIn([200]) },
    'POST /api/v1/leave/:id/approve': { audits: ['leave.approve'], request: (context, _caller, target) => ({ ...leavePath(context, target, '/approve'), body: {} }), object: leaveObject, succeeded: decidedOrRefused },
    'POST /api/v1/leave/:id/reject': { audits: ['leave.reject'],
      request: (context, _caller, target) => ({ ...leavePath(context, target, '/reject'), body: { reason: 'matrix' } }),
      object: leaveObject,
      succeeded: decidedOrRefused,
    },
    'POST /api/v1/leave/:id/withdraw': { audits: ['leave.withdraw'], request: (context, _caller, target) => ({ ...leavePath(context, target, '/withdraw'), body: {} }), object: leaveObject, succeeded: decidedOrRefused },
    'POST /api/v1/leave/:id/revoke': { audits: ['leave.revoke'],
      request: (context, _caller, target) => ({ ...leavePath(context, target, '/revoke'), body: { reason: 'matrix' } }),
      object: leaveObject,
      succeeded: decidedOrRefused,
    },
    'POST /api/v1/leave/:id/documents': { audits: ['leave.document.add'],
      request: (context, _caller, target) => ({
        ...leavePath(context, target, '/documents'),
        body: { filename: 'more.pdf', contentType: 'application/pdf', contentBase64: PDF.toString('base64') },
      }),
      object: leaveObject,
      succeeded: decidedOrRefused,
    },
    'GET /api/v1/leave/:id/documents/:digest': {
      request: (context, _caller, target) => leavePath(context, target, `/documents/${state(context).documentSha256}`),
      object: leaveObject,
      succeeded: statusIn([200]),
    },
    'GET /api/v1/students/:id/leave-balances': {
      request: (context, _caller, target) => ({ path: `/api/v1/students/${state(context).studentOf[target.id]}/leave-balances?termId=matrix-leave` }),
      object: (target, context) => state(context).studentObjectOf[target.id]!,
      succeeded: statusIn([200]),
    },
  },
};
