import type { Queryable } from '../../hub/db/db.js';
import { SMALL_CAMPUS } from '../../fixtures/campus/small.js';

export { SMALL_CAMPUS };

/** Ids of the small campus that tests name often. */
export const CAMPUS_IDS = {
  theory: '00000000-0000-4000-8000-0000000000c1',
  practical: '00000000-0000-4000-8000-0000000000c2',
  eeTheory: '00000000-0000-4000-8000-0000000000c3',
  labBatch1: '00000000-0000-4000-8000-0000000000d1',
  labBatch2: '00000000-0000-4000-8000-0000000000d2',
  students: SMALL_CAMPUS.students.map((student) => student.id),
  /** Dr. Anjali Rao: teaches CS301 theory and practical. */
  facultyCs: '00000000-0000-4000-8000-0000000000f1',
  /** Prof. Vikram Sen: assists CS301 practical. */
  facultyCs2: '00000000-0000-4000-8000-0000000000f2',
  facultyEe: '00000000-0000-4000-8000-0000000000f3',
} as const;

/**
 * Writes the small hand-written campus (fixtures/campus/small.ts) straight
 * into a migrated database, in one transaction-less sequence of plain
 * INSERTs. For tests of everything downstream of import.
 */
export async function seedSmallCampus(db: Queryable): Promise<void> {
  const c = SMALL_CAMPUS;
  const rows = async (sql: string, values: readonly (readonly unknown[])[]) => {
    for (const value of values) await db.query(sql, value);
  };
  await db.query('insert into institutions (id, name) values ($1, $2)', [c.institution.id, c.institution.name]);
  await rows('insert into campuses (id, institution_id, name, timezone) values ($1, $2, $3, $4)', c.campuses.map((x) => [x.id, x.institutionId, x.name, x.timezone]));
  await rows('insert into departments (id, campus_id, name) values ($1, $2, $3)', c.departments.map((x) => [x.id, x.campusId, x.name]));
  await rows('insert into programmes (id, department_id, name) values ($1, $2, $3)', c.programmes.map((x) => [x.id, x.departmentId, x.name]));
  await rows('insert into batches (id, programme_id, name, start_year) values ($1, $2, $3, $4)', c.batches.map((x) => [x.id, x.programmeId, x.name, x.startYear]));
  await rows(
    'insert into students (id, roll_no, name, batch_id, section_label, enrolment_date, id_card_no, device_user_id) values ($1, $2, $3, $4, $5, $6, $7, $8)',
    c.students.map((x) => [x.id, x.rollNo, x.name, x.batchId, x.sectionLabel, x.enrolmentDate, x.idCardNo, x.deviceUserId]),
  );
  await rows('insert into faculty (id, employee_no, name, department_id) values ($1, $2, $3, $4)', c.faculty.map((x) => [x.id, x.employeeNo, x.name, x.departmentId]));
  await rows('insert into terms (id, institution_id, name, starts_on, ends_on) values ($1, $2, $3, $4, $5)', c.terms.map((x) => [x.id, x.institutionId, x.name, x.startsOn, x.endsOn]));
  await rows(
    'insert into academic_periods (id, term_id, kind, name, starts_on, ends_on) values ($1, $2, $3, $4, $5, $6)',
    c.academicPeriods.map((x) => [x.id, x.termId, x.kind, x.name, x.startsOn, x.endsOn]),
  );
  await rows('insert into holidays (id, campus_id, on_date, name) values ($1, $2, $3, $4)', c.holidays.map((x) => [x.id, x.campusId, x.onDate, x.name]));
  await rows('insert into courses (id, department_id, name, credits) values ($1, $2, $3, $4)', c.courses.map((x) => [x.id, x.departmentId, x.name, x.credits]));
  await rows(
    'insert into course_sections (id, code, term_id, course_id, component, department_id) values ($1, $2, $3, $4, $5, $6)',
    c.sections.map((x) => [x.id, x.code, x.termId, x.courseId, x.component, x.departmentId]),
  );
  await rows('insert into section_subgroups (id, section_id, code) values ($1, $2, $3)', c.subgroups.map((x) => [x.id, x.sectionId, x.code]));
  await rows('insert into section_teachers (section_id, faculty_id, role) values ($1, $2, $3)', c.sectionTeachers.map((x) => [x.sectionId, x.facultyId, x.role]));
  await rows(
    'insert into enrolments (section_id, student_id, subgroup_id, enrolled_on) values ($1, $2, $3, $4)',
    c.enrolments.map((x) => [x.sectionId, x.studentId, x.subgroupId, x.enrolledOn]),
  );
  await rows('insert into rooms (id, campus_id, name, capacity) values ($1, $2, $3, $4)', c.rooms.map((x) => [x.id, x.campusId, x.name, x.capacity]));
  await rows('insert into room_devices (campus_id, device_id, room_id) values ($1, $2, $3)', c.roomDevices.map((x) => [x.campusId, x.deviceId, x.roomId]));
  for (const slot of c.timetable) {
    await db.query(
      `insert into timetable_slots (id, term_id, campus_id, weekday, starts_at, ends_at, room_id, faculty_id, effective_from, effective_to)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [slot.id, slot.termId, slot.campusId, slot.weekday, slot.startsAt, slot.endsAt, slot.roomId, slot.facultyId, slot.effectiveFrom, slot.effectiveTo],
    );
    await rows('insert into timetable_slot_groups (slot_id, section_id, subgroup_id) values ($1, $2, $3)', slot.groups.map((g) => [slot.id, g.sectionId, g.subgroupId]));
  }
}

/** Links a user account to a student or faculty row, so that the policy's object rules apply to them. */
export async function linkUser(db: Queryable, kind: 'student' | 'faculty', id: string, userId: string): Promise<void> {
  await db.query(`update ${kind === 'student' ? 'students' : 'faculty'} set user_id = $2 where id = $1`, [id, userId]);
}
