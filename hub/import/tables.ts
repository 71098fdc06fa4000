import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import type { ColumnSpec, Value } from './values.js';

/**
 * The tables an import can write: their columns, natural keys and how valid
 * rows are written. Writers check references (a section's course, an
 * enrolment's student) against the database inside the import's
 * transaction, so a file may refer to rows an earlier table of the same
 * import wrote, and report every row whose reference is missing.
 */

export interface ImportRow {
  /** 1-based data row within its table. */
  row: number;
  values: Record<string, Value>;
}

export interface WriteContext {
  tx: Queryable;
  reject(row: number, column: string, reason: string): void;
  /** Reports rows written so far in this table. */
  wrote(rows: number): void;
}

export interface WriteCounts {
  inserted: number;
  updated: number;
}

export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
  /** Natural key: columns that identify a row; re-importing a key updates its row. */
  key: string[];
  write(context: WriteContext, rows: ImportRow[]): Promise<WriteCounts>;
}

const CHUNK = 2000;
const code = { kind: 'code' } as const;
const name = { kind: 'text', maxLength: 200 } as const;
const date = { kind: 'date' } as const;

const text = (row: ImportRow, column: string) => row.values[column] as string;
const optional = (row: ImportRow, column: string) => row.values[column] as string | number | null;
const keyOf = (...parts: readonly unknown[]) => parts.join('|');

interface Upsert {
  table: string;
  /** Column name and Postgres type, in the order of each row's values. */
  columns: [string, string][];
  conflict: string;
  /** Columns a conflicting row takes from the file; at least one, so that RETURNING sees every row. */
  update: [string, ...string[]];
  returning?: string;
  /** Rows of a table's secondary rows (sub-groups, teachers) are not counted in the progress. */
  secondary?: boolean;
}

/**
 * INSERT … ON CONFLICT DO UPDATE for many rows at once, in chunks, through
 * unnest() of one array per column (plain SQL for Postgres and PGlite).
 * Each returned row says whether it was inserted.
 */
async function upsert<R extends object = object>(context: WriteContext, spec: Upsert, rows: unknown[][]): Promise<(R & { inserted: boolean })[]> {
  const names = spec.columns.map(([column]) => column);
  const arrays = spec.columns.map(([, type], index) => `$${index + 1}::${type}[]`);
  const update = spec.update.map((column) => `${column} = excluded.${column}`).join(', ');
  const sql = `insert into ${spec.table} (${names.join(', ')}) select * from unnest(${arrays.join(', ')})
               on conflict ${spec.conflict} do update set ${update}
               returning (xmax = 0) as inserted${spec.returning ? `, ${spec.returning}` : ''}`;
  const results: (R & { inserted: boolean })[] = [];
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const { rows: written } = await context.tx.query<R & { inserted: boolean }>(sql, spec.columns.map((_, index) => chunk.map((row) => row[index] ?? null)));
    results.push(...written);
    if (!spec.secondary) context.wrote(Math.min(rows.length, start + CHUNK));
  }
  return results;
}

function countsOf(results: readonly { inserted: boolean }[]): WriteCounts {
  const inserted = results.filter((result) => result.inserted).length;
  return { inserted, updated: results.length - inserted };
}

async function idSet(tx: Queryable, sql: string): Promise<Set<string>> {
  const { rows } = await tx.query<{ id: string }>(sql);
  return new Set(rows.map((row) => row.id));
}

async function idMap(tx: Queryable, sql: string): Promise<Map<string, string>> {
  const { rows } = await tx.query<{ key: string; id: string }>(sql);
  return new Map(rows.map((row) => [row.key, row.id]));
}

/** Keeps the rows whose every reference exists; rejects the others, naming the column. */
function resolved(context: WriteContext, rows: ImportRow[], checks: [column: string, exists: (row: ImportRow) => boolean, what: string][]): ImportRow[] {
  return rows.filter((row) => {
    let ok = true;
    for (const [column, exists, what] of checks) {
      const value = row.values[column];
      if (value === null || value === undefined || exists(row)) continue;
      context.reject(row.row, column, `no ${what} "${String(value)}"`);
      ok = false;
    }
    return ok;
  });
}

function simpleTable(spec: { name: string; table: string; columns: ColumnSpec[]; key: string[]; conflict: string; update: [string, ...string[]]; types: Record<string, string>; dbColumns: Record<string, string>; references?: Record<string, [sql: string, what: string]> }): TableSpec {
  return {
    name: spec.name,
    columns: spec.columns,
    key: spec.key,
    async write(context, rows) {
      const references = await Promise.all(Object.entries(spec.references ?? {}).map(async ([column, [sql, what]]) => [column, await idSet(context.tx, sql), what] as const));
      const valid = resolved(context, rows, references.map(([column, ids, what]) => [column, (row) => ids.has(text(row, column)), what]));
      const columns = spec.columns.map((column) => column.name);
      const results = await upsert(
        context,
        {
          table: spec.table,
          columns: columns.map((column) => [spec.dbColumns[column] ?? column, spec.types[column] ?? 'text']),
          conflict: spec.conflict,
          update: spec.update,
        },
        valid.map((row) => columns.map((column) => row.values[column])),
      );
      return countsOf(results);
    },
  };
}

const institutions = simpleTable({
  name: 'institutions',
  table: 'institutions',
  columns: [
    { name: 'id', type: code, required: true, description: 'institution code' },
    { name: 'name', type: name, required: true, description: 'name' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['name'],
  types: {},
  dbColumns: {},
});

const campuses = simpleTable({
  name: 'campuses',
  table: 'campuses',
  columns: [
    { name: 'id', type: code, required: true, description: 'campus code, as agents name it' },
    { name: 'institution', type: code, required: true, description: 'institution code' },
    { name: 'name', type: name, required: true, description: 'name' },
    { name: 'timezone', type: { kind: 'timezone' }, fallback: 'Asia/Kolkata', description: 'IANA time zone of its timetable (default Asia/Kolkata)' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['institution_id', 'name', 'timezone'],
  types: {},
  dbColumns: { institution: 'institution_id' },
  references: { institution: ['select id from institutions', 'institution'] },
});

const departments = simpleTable({
  name: 'departments',
  table: 'departments',
  columns: [
    { name: 'id', type: code, required: true, description: 'department code' },
    { name: 'campus', type: code, required: true, description: 'campus code' },
    { name: 'name', type: name, required: true, description: 'name' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['campus_id', 'name'],
  types: {},
  dbColumns: { campus: 'campus_id' },
  references: { campus: ['select id from campuses', 'campus'] },
});

const programmes = simpleTable({
  name: 'programmes',
  table: 'programmes',
  columns: [
    { name: 'id', type: code, required: true, description: 'programme code' },
    { name: 'department', type: code, required: true, description: 'department code' },
    { name: 'name', type: name, required: true, description: 'name' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['department_id', 'name'],
  types: {},
  dbColumns: { department: 'department_id' },
  references: { department: ['select id from departments', 'department'] },
});

const batches = simpleTable({
  name: 'batches',
  table: 'batches',
  columns: [
    { name: 'id', type: code, required: true, description: 'batch code' },
    { name: 'programme', type: code, required: true, description: 'programme code' },
    { name: 'name', type: name, required: true, description: 'name' },
    { name: 'start_year', type: { kind: 'integer', min: 1900, max: 2200 }, required: true, description: 'year of admission' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['programme_id', 'name', 'start_year'],
  types: { start_year: 'int' },
  dbColumns: { programme: 'programme_id' },
  references: { programme: ['select id from programmes', 'programme'] },
});

/** Rejects rows whose `to` date is before their `from` date. */
function ordered(context: WriteContext, rows: ImportRow[], from: string, to: string): ImportRow[] {
  return rows.filter((row) => {
    const end = optional(row, to);
    if (end === null || end >= text(row, from)) return true;
    context.reject(row.row, to, `is before ${from}`);
    return false;
  });
}

const termsBase = simpleTable({
  name: 'terms',
  table: 'terms',
  columns: [
    { name: 'id', type: code, required: true, description: 'term code, e.g. 2026-odd' },
    { name: 'institution', type: code, required: true, description: 'institution code' },
    { name: 'name', type: name, required: true, description: 'name' },
    { name: 'starts_on', type: date, required: true, description: 'first day' },
    { name: 'ends_on', type: date, required: true, description: 'last day' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['institution_id', 'name', 'starts_on', 'ends_on'],
  types: { starts_on: 'date', ends_on: 'date' },
  dbColumns: { institution: 'institution_id' },
  references: { institution: ['select id from institutions', 'institution'] },
});
const terms: TableSpec = { ...termsBase, write: (context, rows) => termsBase.write(context, ordered(context, rows, 'starts_on', 'ends_on')) };

const academicPeriods: TableSpec = {
  name: 'academic_periods',
  columns: [
    { name: 'term', type: code, required: true, description: 'term code' },
    { name: 'kind', type: { kind: 'enum', values: ['instruction', 'examination', 'vacation'] }, required: true, description: 'instruction, examination or vacation' },
    { name: 'name', type: name, required: true, description: 'name, unique within the term' },
    { name: 'starts_on', type: date, required: true, description: 'first day' },
    { name: 'ends_on', type: date, required: true, description: 'last day' },
  ],
  key: ['term', 'name'],
  async write(context, rows) {
    const known = await idSet(context.tx, 'select id from terms');
    const valid = resolved(context, ordered(context, rows, 'starts_on', 'ends_on'), [['term', (row) => known.has(text(row, 'term')), 'term']]);
    const results = await upsert(
      context,
      {
        table: 'academic_periods',
        columns: [['id', 'uuid'], ['term_id', 'text'], ['kind', 'text'], ['name', 'text'], ['starts_on', 'date'], ['ends_on', 'date']],
        conflict: '(term_id, name)',
        update: ['kind', 'starts_on', 'ends_on'],
      },
      valid.map((row) => [randomUUID(), row.values.term, row.values.kind, row.values.name, row.values.starts_on, row.values.ends_on]),
    );
    return countsOf(results);
  },
};

const rooms = simpleTable({
  name: 'rooms',
  table: 'rooms',
  columns: [
    { name: 'id', type: code, required: true, description: 'room code' },
    { name: 'campus', type: code, required: true, description: 'campus code' },
    { name: 'name', type: name, required: true, description: 'name' },
    { name: 'capacity', type: { kind: 'integer', min: 1, max: 100_000 }, description: 'seats' },
  ],
  key: ['id'],
  conflict: '(id)',
  update: ['campus_id', 'name', 'capacity'],
  types: { capacity: 'int' },
  dbColumns: { campus: 'campus_id' },
  references: { campus: ['select id from campuses', 'campus'] },
});

const roomDevices: TableSpec = {
  name: 'room_devices',
  columns: [
    { name: 'campus', type: code, required: true, description: 'campus code' },
    { name: 'device_id', type: code, required: true, description: 'the door device\'s id on its agent, e.g. door-101' },
    { name: 'room', type: code, required: true, description: 'room code; the room must be on the same campus' },
  ],
  key: ['campus', 'device_id'],
  async write(context, rows) {
    const campusIds = await idSet(context.tx, 'select id from campuses');
    const roomCampus = await idMap(context.tx, 'select id as key, campus_id as id from rooms');
    const valid = resolved(context, rows, [
      ['campus', (row) => campusIds.has(text(row, 'campus')), 'campus'],
      ['room', (row) => roomCampus.get(text(row, 'room')) === text(row, 'campus'), 'room on that campus'],
    ]);
    const results = await upsert(
      context,
      { table: 'room_devices', columns: [['campus_id', 'text'], ['device_id', 'text'], ['room_id', 'text']], conflict: '(campus_id, device_id)', update: ['room_id'] },
      valid.map((row) => [row.values.campus, row.values.device_id, row.values.room]),
    );
    return countsOf(results);
  },
};

/** Checks that no two rows give one value of a unique column, and that no other row in the database has it. */
async function uniqueAmongOthers(context: WriteContext, rows: ImportRow[], column: string, sql: string): Promise<ImportRow[]> {
  const owners = await idMap(context.tx, sql);
  const seen = new Map<string, ImportRow>();
  return rows.filter((row) => {
    const value = optional(row, column);
    if (value === null) return true;
    const owner = owners.get(String(value));
    const earlier = seen.get(String(value));
    seen.set(String(value), row);
    if (earlier) context.reject(row.row, column, `"${value}" is also given at row ${earlier.row}`);
    else if (owner !== undefined && owner !== text(row, 'roll_no')) context.reject(row.row, column, `"${value}" belongs to student ${owner}`);
    else return true;
    return false;
  });
}

const students: TableSpec = {
  name: 'students',
  columns: [
    { name: 'roll_no', type: code, required: true, description: 'roll number, the natural key' },
    { name: 'name', type: name, required: true, description: 'full name' },
    { name: 'batch', type: code, required: true, description: 'batch code' },
    { name: 'section_label', type: { kind: 'text', maxLength: 20 }, description: 'class section of the batch (A, B, …)' },
    { name: 'enrolment_date', type: date, required: true, description: 'date the student joined; attendance counts from it' },
    { name: 'id_card_no', type: { kind: 'text', maxLength: 64 }, description: 'ID card number (unique)' },
    { name: 'device_user_id', type: { kind: 'text', maxLength: 64 }, description: 'user id on door terminals, the code in a QR (unique)' },
    { name: 'status', type: { kind: 'enum', values: ['active', 'inactive'] }, fallback: 'active', description: 'active (default) or inactive' },
  ],
  key: ['roll_no'],
  async write(context, rows) {
    const batchIds = await idSet(context.tx, 'select id from batches');
    let valid = resolved(context, rows, [['batch', (row) => batchIds.has(text(row, 'batch')), 'batch']]);
    valid = await uniqueAmongOthers(context, valid, 'device_user_id', 'select device_user_id as key, roll_no as id from students where device_user_id is not null');
    valid = await uniqueAmongOthers(context, valid, 'id_card_no', 'select id_card_no as key, roll_no as id from students where id_card_no is not null');
    const results = await upsert(
      context,
      {
        table: 'students',
        columns: [['id', 'uuid'], ['roll_no', 'text'], ['name', 'text'], ['batch_id', 'text'], ['section_label', 'text'], ['enrolment_date', 'date'], ['id_card_no', 'text'], ['device_user_id', 'text'], ['status', 'text']],
        conflict: '(roll_no)',
        update: ['name', 'batch_id', 'section_label', 'enrolment_date', 'id_card_no', 'device_user_id', 'status'],
      },
      valid.map((row) => [randomUUID(), ...['roll_no', 'name', 'batch', 'section_label', 'enrolment_date', 'id_card_no', 'device_user_id', 'status'].map((column) => row.values[column])]),
    );
    return countsOf(results);
  },
};

const faculty: TableSpec = {
  name: 'faculty',
  columns: [
    { name: 'employee_no', type: code, required: true, description: 'employee number, the natural key' },
    { name: 'name', type: name, required: true, description: 'full name' },
    { name: 'department', type: code, required: true, description: 'department code' },
  ],
  key: ['employee_no'],
  async write(context, rows) {
    const departmentIds = await idSet(context.tx, 'select id from departments');
    const valid = resolved(context, rows, [['department', (row) => departmentIds.has(text(row, 'department')), 'department']]);
    const results = await upsert(
      context,
      { table: 'faculty', columns: [['id', 'uuid'], ['employee_no', 'text'], ['name', 'text'], ['department_id', 'text']], conflict: '(employee_no)', update: ['name', 'department_id'] },
      valid.map((row) => [randomUUID(), row.values.employee_no, row.values.name, row.values.department]),
    );
    return countsOf(results);
  },
};

const courses = simpleTable({
  name: 'courses',
  table: 'courses',
  columns: [
    { name: 'code', type: code, required: true, description: 'course code, e.g. CS301' },
    { name: 'name', type: name, required: true, description: 'title' },
    { name: 'department', type: code, required: true, description: 'department code' },
    { name: 'credits', type: { kind: 'decimal', min: 0, max: 99 }, description: 'credits' },
  ],
  key: ['code'],
  conflict: '(id)',
  update: ['department_id', 'name', 'credits'],
  types: { credits: 'numeric' },
  dbColumns: { code: 'id', department: 'department_id' },
  references: { department: ['select id from departments', 'department'] },
});

const TEACHER_ROLES = ['teacher', 'assistant'];

const sections: TableSpec = {
  name: 'sections',
  columns: [
    { name: 'term', type: code, required: true, description: 'term code' },
    { name: 'code', type: code, required: true, description: 'section code, unique within the term, e.g. CS301-A-TH' },
    { name: 'course', type: code, required: true, description: 'course code; the section belongs to the course\'s department' },
    { name: 'component', type: { kind: 'enum', values: ['theory', 'tutorial', 'practical'] }, required: true, description: 'theory, tutorial or practical' },
    { name: 'teachers', type: { kind: 'list' }, description: 'employee numbers separated by ";", each optionally with ":assistant" (replaces the section\'s teachers)' },
    { name: 'subgroups', type: { kind: 'list' }, description: 'codes of lab batches or other sub-groups separated by ";" (added; none are removed)' },
  ],
  key: ['term', 'code'],
  async write(context, rows) {
    const termIds = await idSet(context.tx, 'select id from terms');
    const courseDepartment = await idMap(context.tx, 'select id as key, department_id as id from courses');
    const facultyIds = await idMap(context.tx, 'select employee_no as key, id from faculty');
    const valid = resolved(context, rows, [
      ['term', (row) => termIds.has(text(row, 'term')), 'term'],
      ['course', (row) => courseDepartment.has(text(row, 'course')), 'course'],
    ]).filter((row) => {
      const listed = new Set<string>();
      for (const entry of row.values.teachers as string[]) {
        const [employeeNo, role = 'teacher'] = entry.split(':');
        if (listed.has(employeeNo!)) context.reject(row.row, 'teachers', `"${employeeNo}" is listed twice`);
        else if (!facultyIds.has(employeeNo!)) context.reject(row.row, 'teachers', `no faculty member "${employeeNo}"`);
        else if (!TEACHER_ROLES.includes(role)) context.reject(row.row, 'teachers', `"${role}" is not one of ${TEACHER_ROLES.join(', ')}`);
        else {
          listed.add(employeeNo!);
          continue;
        }
        return false;
      }
      return true;
    });
    const results = await upsert<{ id: string; term_id: string; code: string }>(
      context,
      {
        table: 'course_sections',
        columns: [['id', 'uuid'], ['code', 'text'], ['term_id', 'text'], ['course_id', 'text'], ['component', 'text'], ['department_id', 'text']],
        conflict: '(term_id, code)',
        update: ['course_id', 'component', 'department_id'],
        returning: 'id, term_id, code',
      },
      valid.map((row) => [randomUUID(), row.values.code, row.values.term, row.values.course, row.values.component, courseDepartment.get(text(row, 'course'))]),
    );
    const sectionIds = new Map(results.map((result) => [keyOf(result.term_id, result.code), result.id]));
    const sectionOf = (row: ImportRow) => sectionIds.get(keyOf(row.values.term, row.values.code))!;
    await upsert(
      context,
      { table: 'section_subgroups', columns: [['id', 'uuid'], ['section_id', 'uuid'], ['code', 'text']], conflict: '(section_id, code)', update: ['code'], secondary: true },
      valid.flatMap((row) => (row.values.subgroups as string[]).map((subgroup) => [randomUUID(), sectionOf(row), subgroup])),
    );
    await context.tx.query('delete from section_teachers where section_id = any($1::uuid[])', [[...sectionIds.values()]]);
    await upsert(
      context,
      { table: 'section_teachers', columns: [['section_id', 'uuid'], ['faculty_id', 'uuid'], ['role', 'text']], conflict: '(section_id, faculty_id)', update: ['role'], secondary: true },
      valid.flatMap((row) => (row.values.teachers as string[]).map((entry) => {
        const [employeeNo, role = 'teacher'] = entry.split(':');
        return [sectionOf(row), facultyIds.get(employeeNo!), role];
      })),
    );
    return countsOf(results);
  },
};

async function sectionMaps(tx: Queryable) {
  return {
    sections: await idMap(tx, "select term_id || '|' || code as key, id from course_sections"),
    subgroups: await idMap(tx, "select section_id || '|' || code as key, id from section_subgroups"),
  };
}

const enrolments: TableSpec = {
  name: 'enrolments',
  columns: [
    { name: 'term', type: code, required: true, description: 'term code' },
    { name: 'section', type: code, required: true, description: 'section code within the term' },
    { name: 'roll_no', type: code, required: true, description: 'the student\'s roll number' },
    { name: 'subgroup', type: code, description: 'the student\'s lab batch or sub-group of the section' },
    { name: 'enrolled_on', type: date, required: true, description: 'date from which the student is on the roll' },
    { name: 'dropped_on', type: date, description: 'date the student left the section' },
  ],
  key: ['term', 'section', 'roll_no'],
  async write(context, rows) {
    const { sections: sectionIds, subgroups } = await sectionMaps(context.tx);
    const studentIds = await idMap(context.tx, 'select roll_no as key, id from students');
    const sectionOf = (row: ImportRow) => sectionIds.get(keyOf(row.values.term, row.values.section));
    const valid = resolved(context, ordered(context, rows, 'enrolled_on', 'dropped_on'), [
      ['section', (row) => sectionOf(row) !== undefined, 'section in that term'],
      ['roll_no', (row) => studentIds.has(text(row, 'roll_no')), 'student with roll number'],
    ]).filter((row) => {
      const subgroup = optional(row, 'subgroup');
      if (subgroup === null || subgroups.has(keyOf(sectionOf(row), subgroup))) return true;
      context.reject(row.row, 'subgroup', `section ${text(row, 'section')} has no sub-group "${subgroup}"`);
      return false;
    });
    const results = await upsert(
      context,
      {
        table: 'enrolments',
        columns: [['section_id', 'uuid'], ['student_id', 'uuid'], ['subgroup_id', 'uuid'], ['enrolled_on', 'date'], ['dropped_on', 'date']],
        conflict: '(section_id, student_id)',
        update: ['subgroup_id', 'enrolled_on', 'dropped_on'],
      },
      valid.map((row) => {
        const sectionId = sectionOf(row)!;
        const subgroup = optional(row, 'subgroup');
        return [sectionId, studentIds.get(text(row, 'roll_no')), subgroup === null ? null : subgroups.get(keyOf(sectionId, subgroup)), row.values.enrolled_on, row.values.dropped_on];
      }),
    );
    return countsOf(results);
  },
};

const timetable: TableSpec = {
  name: 'timetable',
  columns: [
    { name: 'term', type: code, required: true, description: 'term code' },
    { name: 'campus', type: code, required: true, description: 'campus code' },
    { name: 'weekday', type: { kind: 'integer', min: 1, max: 7 }, required: true, description: 'ISO weekday, 1 Monday … 7 Sunday' },
    { name: 'starts_at', type: { kind: 'time' }, required: true, description: 'local start time, HH:MM' },
    { name: 'ends_at', type: { kind: 'time' }, required: true, description: 'local end time, HH:MM' },
    { name: 'groups', type: { kind: 'list' }, required: true, description: 'section codes separated by ";", each optionally with "/<subgroup>"; the first identifies the slot' },
    { name: 'room', type: code, description: 'room code on the campus' },
    { name: 'faculty', type: code, description: 'employee number of the teacher' },
    { name: 'effective_from', type: date, description: 'first date the slot applies (default: the term\'s first day)' },
    { name: 'effective_to', type: date, description: 'last date the slot applies' },
  ],
  key: ['term', 'weekday', 'starts_at', 'groups'],
  async write(context, rows) {
    const termStarts = await idMap(context.tx, 'select id as key, starts_on::text as id from terms');
    const campusIds = await idSet(context.tx, 'select id from campuses');
    const roomCampus = await idMap(context.tx, 'select id as key, campus_id as id from rooms');
    const facultyIds = await idMap(context.tx, 'select employee_no as key, id from faculty');
    const { sections: sectionIds, subgroups } = await sectionMaps(context.tx);
    // A slot is found again by its term, weekday, start and any one of its groups.
    const existing = await idMap(
      context.tx,
      `select s.term_id || '|' || s.weekday || '|' || s.starts_at::text || '|' || g.section_id || '|' || coalesce(g.subgroup_id::text, '') as key, s.id
         from timetable_slots s join timetable_slot_groups g on g.slot_id = s.id`,
    );
    const resolvedGroups = new Map<ImportRow, [string, string | null][]>();
    const valid = resolved(context, rows, [
      ['term', (row) => termStarts.has(text(row, 'term')), 'term'],
      ['campus', (row) => campusIds.has(text(row, 'campus')), 'campus'],
      ['room', (row) => roomCampus.get(text(row, 'room')) === text(row, 'campus'), 'room on that campus'],
      ['faculty', (row) => facultyIds.has(text(row, 'faculty')), 'faculty member'],
    ]).filter((row) => {
      if (text(row, 'ends_at') <= text(row, 'starts_at')) {
        context.reject(row.row, 'ends_at', 'is not after starts_at');
        return false;
      }
      const groups: [string, string | null][] = [];
      for (const group of row.values.groups as string[]) {
        const [section, subgroup] = group.split('/');
        const sectionId = sectionIds.get(keyOf(row.values.term, section));
        const subgroupId = subgroup === undefined ? null : subgroups.get(keyOf(sectionId, subgroup));
        if (!sectionId) context.reject(row.row, 'groups', `no section "${section}" in term ${text(row, 'term')}`);
        else if (subgroupId === undefined) context.reject(row.row, 'groups', `section ${section} has no sub-group "${subgroup}"`);
        else if (groups.some(([other]) => other === sectionId)) context.reject(row.row, 'groups', `section ${section} is listed twice`);
        else {
          groups.push([sectionId, subgroupId]);
          continue;
        }
        return false;
      }
      resolvedGroups.set(row, groups);
      return true;
    });
    const rowOfSlot = new Map<string, ImportRow>();
    const slots = valid.flatMap((row) => {
      const [sectionId, subgroupId] = resolvedGroups.get(row)![0]!;
      const id = existing.get(keyOf(row.values.term, row.values.weekday, row.values.starts_at, sectionId, subgroupId ?? ''));
      // Two rows whose first groups are both groups of one existing slot would both change it.
      const earlier = id === undefined ? undefined : rowOfSlot.get(id);
      if (earlier) {
        context.reject(row.row, 'groups', `is the same slot as row ${earlier.row} (they share a group at that time)`);
        return [];
      }
      if (id !== undefined) rowOfSlot.set(id, row);
      return [{ row, id: id ?? randomUUID(), isNew: id === undefined }];
    });
    await upsert(
      context,
      {
        table: 'timetable_slots',
        columns: [['id', 'uuid'], ['term_id', 'text'], ['campus_id', 'text'], ['weekday', 'smallint'], ['starts_at', 'time'], ['ends_at', 'time'], ['room_id', 'text'], ['faculty_id', 'uuid'], ['effective_from', 'date'], ['effective_to', 'date']],
        conflict: '(id)',
        update: ['campus_id', 'ends_at', 'room_id', 'faculty_id', 'effective_from', 'effective_to'],
      },
      slots.map(({ row, id }) => [
        id,
        row.values.term,
        row.values.campus,
        row.values.weekday,
        row.values.starts_at,
        row.values.ends_at,
        row.values.room,
        row.values.faculty === null ? null : facultyIds.get(text(row, 'faculty')),
        row.values.effective_from ?? termStarts.get(text(row, 'term')),
        row.values.effective_to,
      ]),
    );
    await context.tx.query('delete from timetable_slot_groups where slot_id = any($1::uuid[])', [slots.filter((slot) => !slot.isNew).map((slot) => slot.id)]);
    await upsert(
      context,
      { table: 'timetable_slot_groups', columns: [['slot_id', 'uuid'], ['section_id', 'uuid'], ['subgroup_id', 'uuid']], conflict: '(slot_id, section_id)', update: ['subgroup_id'], secondary: true },
      slots.flatMap(({ row, id }) => resolvedGroups.get(row)!.map(([sectionId, subgroupId]) => [id, sectionId, subgroupId])),
    );
    const inserted = slots.filter((slot) => slot.isNew).length;
    return { inserted, updated: slots.length - inserted };
  },
};

const holidays: TableSpec = {
  name: 'holidays',
  columns: [
    { name: 'date', type: date, required: true, description: 'the day' },
    { name: 'name', type: name, required: true, description: 'name' },
    { name: 'campus', type: code, description: 'campus code; empty for a holiday of the whole institution' },
  ],
  key: ['campus', 'date'],
  async write(context, rows) {
    const campusIds = await idSet(context.tx, 'select id from campuses');
    const valid = resolved(context, rows, [['campus', (row) => campusIds.has(text(row, 'campus')), 'campus']]);
    const results = await upsert(
      context,
      { table: 'holidays', columns: [['id', 'uuid'], ['campus_id', 'text'], ['on_date', 'date'], ['name', 'text']], conflict: "((coalesce(campus_id, '')), on_date)", update: ['name'] },
      valid.map((row) => [randomUUID(), row.values.campus, row.values.date, row.values.name]),
    );
    return countsOf(results);
  },
};

export const IMPORT_KINDS = ['campus', 'students', 'faculty', 'courses', 'sections', 'enrolments', 'timetable', 'holidays'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** The tables of each kind, in the order they are written. */
export const KIND_TABLES: Record<ImportKind, readonly TableSpec[]> = {
  campus: [institutions, campuses, departments, programmes, batches, terms, academicPeriods, rooms, roomDevices],
  students: [students],
  faculty: [faculty],
  courses: [courses],
  sections: [sections],
  enrolments: [enrolments],
  timetable: [timetable],
  holidays: [holidays],
};
