import { randomUUID } from 'node:crypto';
import type { OwnedObject } from '../auth/rules.js';
import { hubDefaults } from '../config.js';
import { recordMarks } from '../ledger/ledger.js';
import { ensureCampus } from '../sessions/routes.cases.js';
import { insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { storeEvidence } from './evidence.js';
import { correctionOwners } from './queries.js';

/**
 * A CS301 lecture and an EE201 lecture held an hour ago (real clock), every
 * student absent by finalization, and one pending correction per matrix
 * user, requested by that user about their own student row (or a CS student
 * nobody is linked to), each with evidence.
 */
interface CorrectionsState {
  csLecture: string;
  eeLecture: string;
  heldFrom: string;
  heldTo: string;
  correctionOf: Record<string, string>;
  objectOf: Record<string, OwnedObject>;
  evidenceSha256: string;
}

const UNLINKED_CS_STUDENT = CAMPUS_IDS.students[2]!;
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('matrix')]);
const state = (context: MatrixContext) => context.state.corrections as CorrectionsState;
const correctionPath = (context: MatrixContext, target: TestUser, suffix = '') => ({ path: `/api/v1/corrections/${state(context).correctionOf[target.id]!}${suffix}` });
const correctionObject = (target: TestUser, context: MatrixContext) => state(context).objectOf[target.id]!;
/** State-changing calls on one correction: the first the policy lets through decides it, later ones are refused as illegal transitions. */
const decidedOrRefused = statusIn([200, 201, 409]);

export const routeCases: RouteCases = {
  async setup(context) {
    await ensureCampus(context);
    const { db } = context.hub;
    const startsAt = Date.now() - 2 * 3_600_000;
    const csLecture = await insertSession(db, { startsAt, state: 'closed', roomId: 'R201' });
    const eeLecture = await insertSession(db, { startsAt, state: 'closed', roomId: 'R201', facultyId: CAMPUS_IDS.facultyEe, groups: [{ sectionId: CAMPUS_IDS.eeTheory }] });
    await db.transaction(async (tx) => {
      for (const [sessionId, students] of [
        [csLecture, CAMPUS_IDS.students.slice(0, 3)],
        [eeLecture, CAMPUS_IDS.students.slice(4)],
      ] as const) {
        await recordMarks(tx, students.map((studentId) => ({ sessionId, studentId, status: 'absent' as const, source: 'automatic' as const, actor: 'system:finalize' })), Date.now());
      }
    });
    const { sha256 } = await storeEvidence(db, hubDefaults().corrections, { filename: 'm.png', contentType: 'image/png', contentBase64: PNG.toString('base64') }, Date.now());
    const correctionsState: CorrectionsState = {
      csLecture,
      eeLecture,
      heldFrom: new Date(startsAt - 600_000).toISOString(),
      heldTo: new Date(startsAt + 3_600_000).toISOString(),
      correctionOf: {},
      objectOf: {},
      evidenceSha256: sha256,
    };
    for (const user of Object.values(context.users)) {
      const linked = await db.query<{ id: string }>('select id from students where user_id = $1', [user.id]);
      const studentId = linked.rows[0]?.id ?? UNLINKED_CS_STUDENT;
      const ee = studentId === CAMPUS_IDS.students[4];
      const id = randomUUID();
      await db.query(
        `insert into corrections (id, kind, state, requested_by, department_id, approver, reason, created_at, due_at)
         values ($1, 'dispute', 'pending', $2, $3, 'hod', 'matrix', now(), now() + interval '2 days')`,
        [id, user.id, ee ? 'ee' : 'cs'],
      );
      await db.query(`insert into correction_items (correction_id, session_id, student_id, status, status_before) values ($1, $2, $3, 'present', 'absent')`, [
        id,
        ee ? eeLecture : csLecture,
        studentId,
      ]);
      await db.query(`insert into correction_evidence (correction_id, sha256, filename, uploaded_by, created_at) values ($1, $2, 'm.png', $3, now())`, [id, sha256, user.id]);
      const owners = (await correctionOwners(db, id))!;
      correctionsState.correctionOf[user.id] = id;
      correctionsState.objectOf[user.id] = { ownerUserId: owners.requestedBy, ...owners };
    }
    context.state.corrections = correctionsState;
  },
  cases: {
    'POST /api/v1/corrections': { audits: ['corrections.request'],
      // A student disputes their own mark in their own lecture; staff correct another CS student. Later calls find a correction pending, or nothing to change.
      request: (context, caller) => {
        const { csLecture, eeLecture } = state(context);
        const body =
          caller.principal.role === 'student'
            ? { sessionId: caller.user?.id === context.users.studentB!.id ? eeLecture : csLecture, status: 'late', reason: 'matrix' }
            : { sessionId: csLecture, studentId: CAMPUS_IDS.students[1], status: 'late', reasonCode: 'other', reason: 'matrix' };
        return { path: '/api/v1/corrections', body };
      },
      succeeded: (response, body) => response.status === 201 || ['correction_pending', 'no_change', 'not_your_section'].includes(body.error ?? ''),
    },
    'POST /api/v1/corrections/incidents': { audits: ['corrections.incident'],
      request: (context) => ({
        path: '/api/v1/corrections/incidents',
        body: { roomId: 'R201', from: state(context).heldFrom, to: state(context).heldTo, reasonCode: 'device_fault', reason: 'matrix' },
      }),
      succeeded: (response, body) => response.status === 201 || ['nothing_affected', 'not_your_section'].includes(body.error ?? ''),
    },
    'GET /api/v1/corrections': { request: () => ({ path: '/api/v1/corrections?limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/corrections/:id': { request: (context, _caller, target) => correctionPath(context, target), object: correctionObject, succeeded: statusIn([200]) },
    'POST /api/v1/corrections/:id/approve': { audits: ['corrections.approve'],
      request: (context, _caller, target) => ({ ...correctionPath(context, target, '/approve'), body: { reasonCode: 'other' } }),
      object: correctionObject,
      succeeded: decidedOrRefused,
    },
    'POST /api/v1/corrections/:id/reject': { audits: ['corrections.reject'],
      request: (context, _caller, target) => ({ ...correctionPath(context, target, '/reject'), body: { reason: 'matrix' } }),
      object: correctionObject,
      succeeded: decidedOrRefused,
    },
    'POST /api/v1/corrections/:id/withdraw': { audits: ['corrections.withdraw'],
      request: (context, _caller, target) => ({ ...correctionPath(context, target, '/withdraw'), body: {} }),
      object: correctionObject,
      succeeded: decidedOrRefused,
    },
    'POST /api/v1/corrections/:id/evidence': { audits: ['corrections.evidence.add'],
      request: (context, _caller, target) => ({
        ...correctionPath(context, target, '/evidence'),
        body: { filename: 'more.png', contentType: 'image/png', contentBase64: PNG.toString('base64') },
      }),
      object: correctionObject,
      succeeded: decidedOrRefused,
    },
    'GET /api/v1/corrections/:id/evidence/:digest': {
      request: (context, _caller, target) => correctionPath(context, target, `/evidence/${state(context).evidenceSha256}`),
      object: correctionObject,
      succeeded: statusIn([200]),
    },
  },
};
