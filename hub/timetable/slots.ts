import type { Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import type { SessionGroup } from '../sessions/queries.js';

export interface SlotView {
  id: string;
  termId: string;
  campusId: string;
  weekday: number;
  startsAt: string;
  endsAt: string;
  roomId: string | null;
  facultyId: string | null;
  effectiveFrom: string;
  effectiveTo: string | null;
  groups: SessionGroup[];
}

const SLOT_COLUMNS = `ts.id, ts.term_id as "termId", ts.campus_id as "campusId", ts.weekday, to_char(ts.starts_at, 'HH24:MI') as "startsAt",
  to_char(ts.ends_at, 'HH24:MI') as "endsAt", ts.room_id as "roomId", ts.faculty_id as "facultyId",
  ts.effective_from::text as "effectiveFrom", ts.effective_to::text as "effectiveTo"`;

async function withGroups(db: Queryable, rows: Omit<SlotView, 'groups'>[]): Promise<SlotView[]> {
  if (rows.length === 0) return [];
  const { rows: groups } = await db.query<SessionGroup & { slotId: string }>(
    `select slot_id as "slotId", section_id as "sectionId", subgroup_id as "subgroupId" from timetable_slot_groups where slot_id = any($1::uuid[]) order by section_id`,
    [rows.map((row) => row.id)],
  );
  return rows.map((row) => ({ ...row, groups: groups.filter((group) => group.slotId === row.id).map(({ sectionId, subgroupId }) => ({ sectionId, subgroupId })) }));
}

export async function findSlot(db: Queryable, id: string): Promise<SlotView | null> {
  const { rows } = await db.query<Omit<SlotView, 'groups'>>(`select ${SLOT_COLUMNS} from timetable_slots ts where ts.id = $1`, [id]);
  return (await withGroups(db, rows))[0] ?? null;
}

export interface SlotFilter {
  termId?: string;
  sectionId?: string;
  roomId?: string;
  afterId?: string;
}

/** Timetable slots, by id, keyset-paged. */
export async function listSlots(db: Queryable, filter: SlotFilter, limit: number): Promise<SlotView[]> {
  const params: unknown[] = [];
  const conditions = ['true'];
  if (filter.termId) {
    params.push(filter.termId);
    conditions.push(`ts.term_id = $${params.length}`);
  }
  if (filter.sectionId) {
    params.push(filter.sectionId);
    conditions.push(`exists (select 1 from timetable_slot_groups g where g.slot_id = ts.id and g.section_id = $${params.length})`);
  }
  if (filter.roomId) {
    params.push(filter.roomId);
    conditions.push(`ts.room_id = $${params.length}`);
  }
  if (filter.afterId) {
    params.push(filter.afterId);
    conditions.push(`ts.id > $${params.length}`);
  }
  params.push(limit);
  const { rows } = await db.query<Omit<SlotView, 'groups'>>(
    `select ${SLOT_COLUMNS} from timetable_slots ts where ${conditions.join(' and ')} order by ts.id limit $${params.length}`,
    params,
  );
  return withGroups(db, rows);
}

/** The departments a slot's sections belong to: whose HOD may change it. */
export async function slotDepartments(db: Queryable, slotId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select distinct c.department_id as id from timetable_slot_groups g join course_sections c on c.id = g.section_id where g.slot_id = $1 order by 1`,
    [slotId],
  );
  return rows.map((row) => row.id);
}

/** A slot as it will be stored, for the clash check. */
export interface SlotShape {
  id: string;
  termId: string;
  weekday: number;
  startsAt: string;
  endsAt: string;
  roomId: string | null;
  facultyId: string | null;
  effectiveFrom: string;
  effectiveTo: string | null;
  groups: SessionGroup[];
}

/**
 * Refuses a slot that meets another at the same time on the same weekday on
 * some date both are in effect (within their terms): the same room, the same
 * teacher, or the same students (the same section, unless both are for
 * different sub-groups of it). 409 names the other slot and what clashes.
 */
export async function checkClashes(db: Queryable, slot: SlotShape): Promise<void> {
  const { rows: term } = await db.query<{ startsOn: string; endsOn: string }>('select starts_on::text as "startsOn", ends_on::text as "endsOn" from terms where id = $1', [slot.termId]);
  const from = slot.effectiveFrom > term[0]!.startsOn ? slot.effectiveFrom : term[0]!.startsOn;
  const to = slot.effectiveTo && slot.effectiveTo < term[0]!.endsOn ? slot.effectiveTo : term[0]!.endsOn;
  if (from > to) return;
  const { rows } = await db.query<Omit<SlotView, 'groups'>>(
    `select ${SLOT_COLUMNS} from timetable_slots ts join terms t on t.id = ts.term_id
      where ts.weekday = $1 and ts.id <> $2 and ts.starts_at < $4::time and ts.ends_at > $3::time
        and greatest(ts.effective_from, t.starts_on) <= $6::date and least(coalesce(ts.effective_to, t.ends_on), t.ends_on) >= $5::date
      order by ts.id`,
    [slot.weekday, slot.id, slot.startsAt, slot.endsAt, from, to],
  );
  for (const other of await withGroups(db, rows)) {
    const clash =
      slot.roomId !== null && other.roomId === slot.roomId
        ? 'room'
        : slot.facultyId !== null && other.facultyId === slot.facultyId
          ? 'teacher'
          : slot.groups.some((group) =>
                other.groups.some((theirs) => theirs.sectionId === group.sectionId && (group.subgroupId === null || theirs.subgroupId === null || theirs.subgroupId === group.subgroupId)),
              )
            ? 'group'
            : null;
    if (clash) {
      throw new HttpError(409, 'timetable_clash', `the slot clashes with slot ${other.id} (${clash}: ${other.startsAt}–${other.endsAt} on weekday ${other.weekday})`, {
        slotId: other.id,
        clash,
      });
    }
  }
}

export async function writeSlot(tx: Queryable, slot: SlotShape & { campusId: string }, insert: boolean): Promise<void> {
  const values = [slot.id, slot.termId, slot.campusId, slot.weekday, slot.startsAt, slot.endsAt, slot.roomId, slot.facultyId, slot.effectiveFrom, slot.effectiveTo];
  if (insert) {
    await tx.query(
      `insert into timetable_slots (id, term_id, campus_id, weekday, starts_at, ends_at, room_id, faculty_id, effective_from, effective_to)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      values,
    );
  } else {
    await tx.query(
      `update timetable_slots set term_id = $2, campus_id = $3, weekday = $4, starts_at = $5, ends_at = $6, room_id = $7, faculty_id = $8,
              effective_from = $9, effective_to = $10 where id = $1`,
      values,
    );
  }
  await tx.query('delete from timetable_slot_groups where slot_id = $1', [slot.id]);
  for (const group of slot.groups) {
    await tx.query('insert into timetable_slot_groups (slot_id, section_id, subgroup_id) values ($1, $2, $3)', [slot.id, group.sectionId, group.subgroupId]);
  }
}
