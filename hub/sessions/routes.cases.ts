import { randomUUID } from 'node:crypto';
import type { OwnedObject } from '../auth/rules.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';

/**
 * Two sessions: one of CS301 theory (taught by facultyCs, studentA enrolled)
 * and one of EE201 theory (studentB enrolled). A case about studentB is about
 * the EE session; about anyone else, the CS one.
 */
interface SessionsState {
  csSession: string;
  eeSession: string;
}

export async function ensureCampus(context: MatrixContext): Promise<void> {
  const db = context.hub.db;
  const seeded = await db.query(`select 1 from campuses where id = 'main'`);
  if (seeded.rows.length === 0) await seedSmallCampus(db);
  await linkUser(db, 'faculty', CAMPUS_IDS.facultyCs, context.users.facultyCs!.id);
  await linkUser(db, 'student', CAMPUS_IDS.students[0]!, context.users.studentA!.id);
  await linkUser(db, 'student', CAMPUS_IDS.students[4]!, context.users.studentB!.id);
}

const isEe = (target: TestUser, context: MatrixContext) => target.id === context.users.studentB!.id;
const state = (context: MatrixContext) => context.state.sessions as SessionsState;
const sessionOf = (target: TestUser, context: MatrixContext) => (isEe(target, context) ? state(context).eeSession : state(context).csSession);
const sectionOf = (target: TestUser, context: MatrixContext) => (isEe(target, context) ? CAMPUS_IDS.eeTheory : CAMPUS_IDS.theory);

function sessionObject(target: TestUser, context: MatrixContext): OwnedObject {
  return isEe(target, context)
    ? { departmentId: 'ee', facultyUserIds: [], memberUserIds: [context.users.studentB!.id] }
    : { departmentId: 'cs', facultyUserIds: [context.users.facultyCs!.id], memberUserIds: [context.users.studentA!.id] };
}

async function createSession(context: MatrixContext, sectionId: string): Promise<string> {
  const response = await context.hub.api('/api/v1/sessions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ groups: [{ sectionId }], startsAt: '2026-11-30T03:30:00Z', endsAt: '2026-11-30T04:20:00Z' }),
  });
  if (response.status !== 201) throw new Error(`creating a matrix session failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

const transition = (action: 'open' | 'close' | 'cancel') => ({
  request: (context: MatrixContext, _caller: unknown, target: TestUser) => ({
    path: `/api/v1/sessions/${sessionOf(target, context)}/${action}`,
    ...(action === 'cancel' ? { body: { reason: 'matrix cancels' } } : {}),
  }),
  object: sessionObject,
  audits: [`session.${action}`],
  // Once one caller has moved the session on, the next gets 409: past the policy all the same.
  succeeded: statusIn([200, 409]),
});

export const routeCases: RouteCases = {
  async setup(context) {
    await ensureCampus(context);
    context.state.sessions = { csSession: await createSession(context, CAMPUS_IDS.theory), eeSession: await createSession(context, CAMPUS_IDS.eeTheory) } satisfies SessionsState;
  },
  cases: {
    'POST /api/v1/sessions': { audits: ['session.create'],
      request: (context, _caller, target) => ({
        path: '/api/v1/sessions',
        body: { groups: [{ sectionId: sectionOf(target, context) }], startsAt: '2026-12-01T03:30:00Z', endsAt: '2026-12-01T04:20:00Z', roomId: null },
      }),
      object: (target, context) => {
        const { departmentId, facultyUserIds } = sessionObject(target, context);
        return { departmentId, facultyUserIds };
      },
      succeeded: statusIn([201]),
    },
    'GET /api/v1/sessions': { request: () => ({ path: '/api/v1/sessions?limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/sessions/:id': {
      request: (context, _caller, target) => ({ path: `/api/v1/sessions/${sessionOf(target, context)}` }),
      object: sessionObject,
      succeeded: statusIn([200]),
    },
    'POST /api/v1/sessions/:id/open': transition('open'),
    'POST /api/v1/sessions/:id/close': transition('close'),
    'POST /api/v1/sessions/:id/cancel': transition('cancel'),
    'POST /api/v1/sessions/generate': { audits: ['sessions.generate'],
      request: (_context, _caller, target) => ({
        path: '/api/v1/sessions/generate',
        body: { termId: '2026-odd', from: '2026-11-16', to: '2026-11-20', ...(target.departmentId ? { departmentId: target.departmentId } : {}) },
      }),
      object: (target) => ({ departmentId: target.departmentId }),
      succeeded: statusIn([200]),
    },
    'GET /api/v1/session-flags': { request: () => ({ path: `/api/v1/session-flags?limit=5&sessionId=${randomUUID()}` }), succeeded: statusIn([200]) },
  },
};
