import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCase, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import type { OwnedObject } from '../auth/rules.js';

/**
 * Seeds the small campus unless another domain's setup already did, and
 * links facultyCs to Dr. Anjali Rao (teaches CS301) and studentA to the
 * first CS student, unless they are linked already.
 */
export async function ensureSmallCampus(context: MatrixContext): Promise<void> {
  const { db } = context.hub;
  const { rows } = await db.query("select 1 from institutions where id = 'demo-univ'");
  if (rows.length === 0) await seedSmallCampus(db);
  const { users } = context;
  const faculty = await db.query('select 1 from faculty where user_id = $1', [users.facultyCs!.id]);
  if (faculty.rows.length === 0) await linkUser(db, 'faculty', CAMPUS_IDS.facultyCs, users.facultyCs!.id);
  const student = await db.query('select 1 from students where user_id = $1', [users.studentA!.id]);
  if (student.rows.length === 0) await linkUser(db, 'student', CAMPUS_IDS.students[0]!, users.studentA!.id);
}

/** The section each matrix user's "own" object is: one they are part of where there is one. */
function sectionFor(target: TestUser, context: MatrixContext): string {
  const { users } = context;
  if (target.id === users.studentB!.id) return CAMPUS_IDS.eeTheory;
  if (target.id === users.facultyCs!.id) return CAMPUS_IDS.practical;
  if (target.id === users.admin!.id) return CAMPUS_IDS.eeTheory;
  return CAMPUS_IDS.theory;
}

/** The student each matrix user's "own" object is: the one linked to them, else one near them. */
async function studentFor(target: TestUser, context: MatrixContext): Promise<string> {
  const { rows } = await context.hub.db.query<{ id: string }>('select id from students where user_id = $1', [target.id]);
  if (rows[0]) return rows[0].id;
  const { users } = context;
  if (target.id === users.studentB!.id) return CAMPUS_IDS.students[5]!;
  if (target.id === users.facultyCs!.id) return CAMPUS_IDS.students[1]!;
  if (target.id === users.admin!.id) return CAMPUS_IDS.students[4]!;
  return CAMPUS_IDS.students[2]!;
}

const objects = (context: MatrixContext) => ((context.state.campusObjects ??= new Map<string, OwnedObject>()) as Map<string, OwnedObject>);

/** Reads the object as it is in the database when the case runs (other domains' setups may link more users). */
async function sectionObject(context: MatrixContext, sectionId: string): Promise<OwnedObject> {
  const { rows } = await context.hub.db.query<{ department_id: string; user_ids: string[] | null }>(
    `select cs.department_id, array_remove(array_agg(f.user_id::text), null) as user_ids
       from course_sections cs left join section_teachers st on st.section_id = cs.id left join faculty f on f.id = st.faculty_id
      where cs.id = $1 group by cs.department_id`,
    [sectionId],
  );
  return { departmentId: rows[0]!.department_id, facultyUserIds: rows[0]!.user_ids ?? [] };
}

async function studentObject(context: MatrixContext, studentId: string): Promise<OwnedObject> {
  const { rows } = await context.hub.db.query<{ user_id: string | null; department_id: string; teacher_ids: string[] | null }>(
    `select s.user_id::text, p.department_id,
            (select array_remove(array_agg(distinct f.user_id::text), null) from enrolments e join section_teachers st on st.section_id = e.section_id
               join faculty f on f.id = st.faculty_id where e.student_id = s.id) as teacher_ids
       from students s join batches b on b.id = s.batch_id join programmes p on p.id = b.programme_id where s.id = $1`,
    [studentId],
  );
  return { ownerUserId: rows[0]!.user_id, departmentId: rows[0]!.department_id, facultyUserIds: rows[0]!.teacher_ids ?? [] };
}

const ok = statusIn([200]);
const read = (path: string): RouteCase => ({ request: () => ({ path }), succeeded: ok });

export const routeCases: RouteCases = {
  setup: ensureSmallCampus,
  cases: {
    'GET /api/v1/campuses': read('/api/v1/campuses'),
    'GET /api/v1/departments': read('/api/v1/departments'),
    'GET /api/v1/programmes': read('/api/v1/programmes?departmentId=cs'),
    'GET /api/v1/batches': read('/api/v1/batches'),
    'GET /api/v1/courses': read('/api/v1/courses'),
    'GET /api/v1/terms': read('/api/v1/terms'),
    'GET /api/v1/holidays': read('/api/v1/holidays?termId=2026-odd'),
    'GET /api/v1/rooms': read('/api/v1/rooms'),
    'PUT /api/v1/rooms/:id/devices': { audits: ['room.devices.set'],
      request: () => ({ path: '/api/v1/rooms/R201/devices', body: { devices: [{ campusId: 'main', deviceId: 'door-201' }] } }),
      succeeded: ok,
    },
    'GET /api/v1/sections': read('/api/v1/sections?limit=5'),
    'GET /api/v1/sections/:id': {
      async request(context, _caller, target) {
        const id = sectionFor(target, context);
        objects(context).set(`section:${target.id}`, await sectionObject(context, id));
        return { path: `/api/v1/sections/${id}` };
      },
      object: (target, context) => objects(context).get(`section:${target.id}`)!,
      succeeded: ok,
    },
    'GET /api/v1/students': read('/api/v1/students?limit=5'),
    'GET /api/v1/students/:id': {
      async request(context, _caller, target) {
        const id = await studentFor(target, context);
        objects(context).set(`student:${target.id}`, await studentObject(context, id));
        return { path: `/api/v1/students/${id}` };
      },
      object: (target, context) => objects(context).get(`student:${target.id}`)!,
      succeeded: ok,
    },
  },
};
