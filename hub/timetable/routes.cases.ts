import { randomUUID } from 'node:crypto';
import { CAMPUS_IDS } from '../../test/support/campus.js';
import { statusIn, type MatrixContext, type RouteCases } from '../../test/support/routeMatrix.js';
import type { TestUser } from '../../test/support/users.js';
import { ensureCampus } from '../sessions/routes.cases.js';

/** A case about studentB is about an EE slot; about anyone else, a CS one. */
const isEe = (target: TestUser, context: MatrixContext) => target.id === context.users.studentB!.id;
const departmentOf = (target: TestUser, context: MatrixContext) => ({ departmentId: isEe(target, context) ? 'ee' : 'cs' });
const sectionOf = (target: TestUser, context: MatrixContext) => (isEe(target, context) ? CAMPUS_IDS.eeTheory : CAMPUS_IDS.theory);
/** The small campus's Monday slots: CS301 theory at 09:00, EE201 theory at 10:00. */
const slotOf = (target: TestUser, context: MatrixContext) => (isEe(target, context) ? '00000000-0000-4000-8000-000000000301' : '00000000-0000-4000-8000-000000000101');

/** A slot of its own for each DELETE, on a Sunday so that it clashes with nothing. */
async function throwawaySlot(context: MatrixContext, sectionId: string): Promise<string> {
  const id = randomUUID();
  await context.hub.db.query(
    `insert into timetable_slots (id, term_id, campus_id, weekday, starts_at, ends_at, effective_from) values ($1, '2026-odd', 'main', 7, '08:00', '08:50', '2026-08-03')`,
    [id],
  );
  await context.hub.db.query('insert into timetable_slot_groups (slot_id, section_id) values ($1, $2)', [id, sectionId]);
  return id;
}

export const routeCases: RouteCases = {
  setup: ensureCampus,
  cases: {
    'GET /api/v1/timetable': { request: () => ({ path: '/api/v1/timetable?termId=2026-odd&limit=5' }), succeeded: statusIn([200]) },
    'GET /api/v1/timetable/changes': { request: () => ({ path: '/api/v1/timetable/changes?termId=2026-odd&limit=5' }), succeeded: statusIn([200]) },
    'POST /api/v1/timetable/slots': { audits: ['timetable.slot.create'],
      request: (context, _caller, target) => ({
        path: '/api/v1/timetable/slots',
        body: { termId: '2026-odd', weekday: 6, startsAt: '08:00', endsAt: '08:50', effectiveFrom: '2026-08-03', groups: [{ sectionId: sectionOf(target, context) }] },
      }),
      object: departmentOf,
      // The first call makes the slot; the same slot again clashes with it (409), past the policy all the same.
      succeeded: statusIn([201, 409]),
    },
    'PATCH /api/v1/timetable/slots/:id': { audits: ['timetable.slot.update'],
      request: (context, _caller, target) => ({ path: `/api/v1/timetable/slots/${slotOf(target, context)}`, body: { reason: 'the matrix touches it' } }),
      object: departmentOf,
      succeeded: statusIn([200]),
    },
    'DELETE /api/v1/timetable/slots/:id': { audits: ['timetable.slot.delete'],
      request: async (context, _caller, target) => ({ path: `/api/v1/timetable/slots/${await throwawaySlot(context, sectionOf(target, context))}` }),
      object: departmentOf,
      succeeded: statusIn([204]),
    },
    'POST /api/v1/timetable/changes': { audits: ['timetable.change.substitute'],
      request: (context, _caller, target) => ({
        path: '/api/v1/timetable/changes',
        body: { kind: 'substitute', slotId: slotOf(target, context), onDate: '2026-11-16', substituteFacultyId: CAMPUS_IDS.facultyCs2 },
      }),
      object: departmentOf,
      succeeded: statusIn([201, 409]),
    },
  },
};
