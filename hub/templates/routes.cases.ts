import { randomUUID } from 'node:crypto';
import type { OwnedObject } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCase, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { findStudentOwner } from '../records/queries.js';

interface TemplatesState {
  /** The student row each matrix user is, or one near them for users who are none. */
  studentOf: Record<string, string>;
  owners: Record<string, OwnedObject>;
}

async function ensureLinked(db: Queryable, fallbackId: string, userId: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select id from students where user_id = $1', [userId]);
  if (rows[0]) return rows[0].id;
  await linkUser(db, 'student', fallbackId, userId);
  return fallbackId;
}

const state = (context: MatrixContext) => context.state.templates as TemplatesState;
const studentFor = (context: MatrixContext, target: TestUser) => state(context).studentOf[target.id] ?? CAMPUS_IDS.students[2]!;
const ownerOf = (target: TestUser, context: MatrixContext) => state(context).owners[studentFor(context, target)]!;

function aboutStudent(suffix: string, succeeded: RouteCase['succeeded'], body?: unknown): RouteCase {
  return {
    request: (context, _caller, target) => ({ path: `/api/v1/students/${studentFor(context, target)}${suffix}`, ...(body === undefined ? {} : { body }) }),
    object: ownerOf,
    succeeded,
  };
}

/** A template id nobody has: the route looks it up and answers not_found once the policy let the call through. */
const unknownTemplate = (suffix: string): RouteCase => ({
  request: () => ({ path: `/api/v1/templates/${randomUUID()}${suffix}` }),
  succeeded: (response, body) => response.status === 404 && body.error === 'not_found',
});

export const routeCases: RouteCases = {
  async setup(context) {
    const { db } = context.hub;
    const { users } = context;
    if ((await db.query(`select 1 from institutions where id = 'demo-univ'`)).rows.length === 0) await seedSmallCampus(db);
    const studentA = await ensureLinked(db, CAMPUS_IDS.students[0]!, users.studentA!.id);
    const studentB = await ensureLinked(db, CAMPUS_IDS.students[4]!, users.studentB!.id);
    const owners: Record<string, OwnedObject> = {};
    for (const studentId of [studentA, studentB, CAMPUS_IDS.students[2]!]) {
      const owner = (await findStudentOwner(db, studentId))!;
      owners[studentId] = { ownerUserId: owner.userId, departmentId: owner.departmentId, facultyUserIds: owner.facultyUserIds };
    }
    context.state.templates = { studentOf: { [users.studentA!.id]: studentA, [users.studentB!.id]: studentB }, owners } satisfies TemplatesState;
  },
  cases: {
    'GET /api/v1/students/:id/biometric-consent': aboutStudent('/biometric-consent', statusIn([200])),
    // Each call flips the state, so a later call may meet the other state: 409 is success too (the policy let it through).
    'POST /api/v1/students/:id/biometric-consent/grant': { ...aboutStudent('/biometric-consent/grant', statusIn([200, 409]), {}), audits: ['consent.grant'] },
    'POST /api/v1/students/:id/biometric-consent/withdraw': { ...aboutStudent('/biometric-consent/withdraw', statusIn([200, 409]), {}), audits: ['consent.withdraw'] },
    'GET /api/v1/students/:id/templates': aboutStudent('/templates', statusIn([200])),
    'POST /api/v1/students/:id/templates': {
      audits: ['templates.enroll'],
      request: (context, _caller, target) => ({
        path: `/api/v1/students/${studentFor(context, target)}/templates`,
        body: { finger: 1, format: 'zk-bio10', quality: 80, template: Buffer.from('route matrix template').toString('base64') },
      }),
      succeeded: (response, body) => response.status === 201 || (response.status === 409 && body.error === 'consent_required'),
    },
    'POST /api/v1/students/:id/templates/capture': {
      audits: ['agent.command.templates.capture'],
      request: (context, _caller, target) => ({ path: `/api/v1/students/${studentFor(context, target)}/templates/capture`, body: { agentId: 'no-such-agent', deviceId: 'door-101', finger: 1 } }),
      // Let through, the route refuses without consent, or looks for the agent, which never reported.
      succeeded: (response, body) => (response.status === 409 && body.error === 'consent_required') || (response.status === 404 && body.error === 'unknown_agent'),
    },
    'DELETE /api/v1/templates/:id': { ...unknownTemplate(''), audits: ['templates.delete'] },
    'GET /api/v1/templates/:id/sync': unknownTemplate('/sync'),
    'POST /api/v1/templates/distribute': {
      auditExempt: 'each delivery to an agent is audited as templates.distribute (and its command as agent.command.templates.put) when there is one; with no agent nothing changes',
      request: () => ({ path: '/api/v1/templates/distribute', body: { campusId: 'main' } }), succeeded: statusIn([200]) },
  },
};
