import { ensureSmallCampus } from '../campus/routes.cases.js';
import { CAMPUS_IDS, linkUser } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';

/** A student no matrix user is: erased by the matrix, again and again (erasure is idempotent). */
const ERASED = CAMPUS_IDS.students[3]!;
const UNLINKED = CAMPUS_IDS.students[2]!;

/** Both matrix students are linked to a student (studentA by the campus setup; studentB to the EE student the records cases use). */
async function linkStudents(context: MatrixContext): Promise<void> {
  await ensureSmallCampus(context);
  const { db } = context.hub;
  const linked = await db.query('select 1 from students where user_id = $1', [context.users.studentB!.id]);
  if (linked.rows.length === 0) await linkUser(db, 'student', CAMPUS_IDS.students[4]!, context.users.studentB!.id);
}

/** The student linked to the target, else one nobody is, so only an admin may export it. */
async function studentOf(context: MatrixContext, target: TestUser): Promise<string> {
  const { rows } = await context.hub.db.query<{ id: string }>('select id from students where user_id = $1', [target.id]);
  return rows[0]?.id ?? UNLINKED;
}

export const routeCases: RouteCases = {
  setup: linkStudents,
  cases: {
    'GET /api/v1/students/:id/data-export': {
      request: async (context, _caller, target) => ({ path: `/api/v1/students/${await studentOf(context, target)}/data-export` }),
      object: (target) => ({ ownerUserId: target.role === 'student' ? target.id : null }),
      succeeded: statusIn([200]),
    },
    'POST /api/v1/students/:id/erase': {
      audits: ['privacy.erase'],
      request: () => ({ path: `/api/v1/students/${ERASED}/erase`, body: { reason: 'route matrix' } }),
      succeeded: statusIn([200]),
    },
  },
};
