import { uuidv7 } from '../../protocol/index.js';
import type { Queryable } from '../db/db.js';
import { reprojectLeave } from '../leave/projection.js';
import { addDays, isoWeekday, localToInstant } from './localTime.js';
import type { SessionGroup, SessionState } from './queries.js';

export interface GenerateOptions {
  /** Only this term's slots; all terms overlapping the range otherwise. */
  termId?: string;
  /** Only slots with a group of this department (an HOD generates for their own). */
  departmentId?: string;
  /** First and last local date of the occurrences to generate, both included. */
  from: string;
  to: string;
  now: Date;
}

export interface GenerateResult {
  created: number;
  updated: number;
  removed: number;
  unchanged: number;
  /** Occurrences that already started or are over: generation never writes the past. */
  skippedPast: number;
}

interface SlotRow {
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
  termStartsOn: string;
  termEndsOn: string;
  timeZone: string;
}

interface ChangeRow {
  id: string;
  kind: 'rescheduled' | 'cancelled' | 'extra' | 'substitute';
  slotId: string | null;
  onDate: string | null;
  newDate: string | null;
  newStartsAt: string | null;
  newEndsAt: string | null;
  newRoomId: string | null;
  substituteFacultyId: string | null;
  sectionId: string | null;
  reason: string | null;
}

/** What one occurrence should look like. */
interface Desired {
  termId: string;
  campusId: string;
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  facultyId: string | null;
  state: Extract<SessionState, 'scheduled' | 'cancelled'>;
  cancelledReason: string | null;
  changeId: string | null;
  groups: SessionGroup[];
}

interface ExistingRow {
  id: string;
  slotId: string;
  slotDate: string;
  state: SessionState;
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  facultyId: string | null;
  cancelledReason: string | null;
  changeId: string | null;
}

const SLOT_FILTER = `($1::text is null or ts.term_id = $1)
  and ($2::text is null or exists (select 1 from timetable_slot_groups sg join course_sections cs on cs.id = sg.section_id
                                  where sg.slot_id = ts.id and cs.department_id = $2))`;

const groupKey = (groups: readonly SessionGroup[]) =>
  groups
    .map((group) => `${group.sectionId}/${group.subgroupId ?? ''}`)
    .sort()
    .join(',');

/**
 * Makes the sessions of a local-date range agree with the timetable, in the
 * caller's transaction. Each occurrence of a slot (its weekday, within its
 * effective dates and its term, not on a holiday of the institution or its
 * campus) is one session, unique by (slot, date), with the occurrence's
 * change applied: rescheduled (new date, times, room), substitute (another
 * teacher), cancelled (kept, in state cancelled with the reason). Extra
 * classes are sessions of origin `extra`, one per change. Running it again
 * changes only future sessions that are still `scheduled`: their time, room,
 * teacher, groups and cancellation follow the timetable, and those whose
 * occurrence no longer exists are deleted. Open, closed and past sessions
 * are never touched, and nothing is created in the past.
 */
export async function generateSessions(tx: Queryable, options: GenerateOptions): Promise<GenerateResult> {
  const { from, to, now } = options;
  const filter = [options.termId ?? null, options.departmentId ?? null];
  const result: GenerateResult = { created: 0, updated: 0, removed: 0, unchanged: 0, skippedPast: 0 };

  const { rows: slots } = await tx.query<SlotRow>(
    `select ts.id, ts.term_id as "termId", ts.campus_id as "campusId", ts.weekday, ts.starts_at::text as "startsAt", ts.ends_at::text as "endsAt",
            ts.room_id as "roomId", ts.faculty_id as "facultyId", ts.effective_from::text as "effectiveFrom", ts.effective_to::text as "effectiveTo",
            t.starts_on::text as "termStartsOn", t.ends_on::text as "termEndsOn", c.timezone as "timeZone"
       from timetable_slots ts join terms t on t.id = ts.term_id join campuses c on c.id = ts.campus_id
      where ${SLOT_FILTER}`,
    filter,
  );
  const slotIds = slots.map((slot) => slot.id);
  const { rows: slotGroups } = await tx.query<SessionGroup & { slotId: string }>(
    `select slot_id as "slotId", section_id as "sectionId", subgroup_id as "subgroupId" from timetable_slot_groups where slot_id = any($1::uuid[])`,
    [slotIds],
  );
  const { rows: holidays } = await tx.query<{ campusId: string | null; onDate: string }>(
    `select campus_id as "campusId", on_date::text as "onDate" from holidays where on_date between $1 and $2`,
    [from, to],
  );
  const holidaySet = new Set(holidays.map((holiday) => `${holiday.campusId ?? '*'}:${holiday.onDate}`));
  const CHANGE_COLUMNS = `id, kind, slot_id as "slotId", on_date::text as "onDate", new_date::text as "newDate", new_starts_at::text as "newStartsAt",
    new_ends_at::text as "newEndsAt", new_room_id as "newRoomId", substitute_faculty_id as "substituteFacultyId", section_id as "sectionId", reason`;
  const { rows: changes } = await tx.query<ChangeRow>(
    `select ${CHANGE_COLUMNS} from timetable_changes where slot_id = any($1::uuid[]) and on_date between $2 and $3`,
    [slotIds, from, to],
  );
  const changeOf = new Map(changes.map((change) => [`${change.slotId}:${change.onDate}`, change]));

  const desired = new Map<string, Desired>();
  for (const slot of slots) {
    const groups = slotGroups.filter((group) => group.slotId === slot.id).map(({ sectionId, subgroupId }) => ({ sectionId, subgroupId }));
    const first = [from, slot.effectiveFrom, slot.termStartsOn].reduce((a, b) => (a > b ? a : b));
    const last = [to, slot.effectiveTo ?? to, slot.termEndsOn].reduce((a, b) => (a < b ? a : b));
    for (let date = first; date <= last; date = addDays(date, 1)) {
      if (isoWeekday(date) !== slot.weekday) continue;
      if (holidaySet.has(`*:${date}`) || holidaySet.has(`${slot.campusId}:${date}`)) continue;
      const change = changeOf.get(`${slot.id}:${date}`);
      const day = change?.kind === 'rescheduled' ? (change.newDate ?? date) : date;
      const startTime = change?.kind === 'rescheduled' ? (change.newStartsAt ?? slot.startsAt) : slot.startsAt;
      const endTime = change?.kind === 'rescheduled' ? (change.newEndsAt ?? slot.endsAt) : slot.endsAt;
      desired.set(`${slot.id}:${date}`, {
        termId: slot.termId,
        campusId: slot.campusId,
        startsAt: localToInstant(day, startTime, slot.timeZone),
        endsAt: localToInstant(day, endTime, slot.timeZone),
        roomId: change?.kind === 'rescheduled' ? (change.newRoomId ?? slot.roomId) : slot.roomId,
        facultyId: change?.kind === 'substitute' ? change.substituteFacultyId : slot.facultyId,
        state: change?.kind === 'cancelled' ? 'cancelled' : 'scheduled',
        cancelledReason: change?.kind === 'cancelled' ? (change.reason ?? 'cancelled in the timetable') : null,
        changeId: change?.id ?? null,
        groups,
      });
    }
  }

  const { rows: existing } = await tx.query<ExistingRow>(
    `select s.id, s.slot_id as "slotId", s.slot_date::text as "slotDate", s.state, s.starts_at as "startsAt", s.ends_at as "endsAt",
            s.room_id as "roomId", s.faculty_id as "facultyId", s.cancelled_reason as "cancelledReason", s.change_id as "changeId"
       from sessions s join timetable_slots ts on ts.id = s.slot_id
      where ${SLOT_FILTER} and s.slot_date between $3 and $4`,
    [...filter, from, to],
  );
  const { rows: existingGroups } = await tx.query<SessionGroup & { sessionId: string }>(
    `select session_id as "sessionId", section_id as "sectionId", subgroup_id as "subgroupId" from session_groups where session_id = any($1::uuid[])`,
    [existing.map((row) => row.id)],
  );
  const isFutureScheduled = (row: { state: SessionState; startsAt: Date }) => row.state === 'scheduled' && row.startsAt > now;

  for (const row of existing) {
    const key = `${row.slotId}:${row.slotDate}`;
    const want = desired.get(key);
    desired.delete(key);
    if (!isFutureScheduled(row)) {
      result.unchanged++;
      continue;
    }
    if (!want) {
      await removeScheduledSession(tx, row.id, now);
      result.removed++;
      continue;
    }
    const groups = existingGroups.filter((group) => group.sessionId === row.id);
    const same =
      row.startsAt.getTime() === want.startsAt.getTime() &&
      row.endsAt.getTime() === want.endsAt.getTime() &&
      row.roomId === want.roomId &&
      row.facultyId === want.facultyId &&
      row.state === want.state &&
      row.cancelledReason === want.cancelledReason &&
      row.changeId === want.changeId &&
      groupKey(groups) === groupKey(want.groups);
    if (same) {
      result.unchanged++;
      continue;
    }
    await tx.query(
      `update sessions set starts_at = $2, ends_at = $3, room_id = $4, faculty_id = $5, state = $6, cancelled_reason = $7, change_id = $8, updated_at = $9
        where id = $1 and state = 'scheduled'`,
      [row.id, want.startsAt, want.endsAt, want.roomId, want.facultyId, want.state, want.cancelledReason, want.changeId, now],
    );
    await replaceGroups(tx, row.id, want.groups);
    result.updated++;
  }

  for (const [key, want] of desired) {
    if (want.startsAt <= now) {
      result.skippedPast++;
      continue;
    }
    const [slotId, slotDate] = key.split(':') as [string, string];
    await insertSession(tx, want, { origin: 'timetable', slotId, slotDate, now });
    result.created++;
  }

  await generateExtras(tx, options, result);
  // Approved leave follows the timetable: onto extra classes, off cancelled or moved sessions.
  await reprojectLeave(tx, { from, to }, now.getTime());
  return result;
}

/** Extra classes: one session per `extra` change whose date is in the range, made once. */
async function generateExtras(tx: Queryable, { termId, departmentId, from, to, now }: GenerateOptions, result: GenerateResult): Promise<void> {
  const { rows } = await tx.query<ChangeRow & { termId: string; campusId: string; timeZone: string; teacherId: string | null }>(
    `select ch.id, ch.new_date::text as "newDate", ch.new_starts_at::text as "newStartsAt", ch.new_ends_at::text as "newEndsAt",
            ch.new_room_id as "newRoomId", ch.substitute_faculty_id as "substituteFacultyId", ch.section_id as "sectionId",
            cs.term_id as "termId", d.campus_id as "campusId", c.timezone as "timeZone"
       from timetable_changes ch join course_sections cs on cs.id = ch.section_id join departments d on d.id = cs.department_id
       join campuses c on c.id = d.campus_id
      where ch.kind = 'extra' and ch.new_date between $3 and $4
        and ($1::text is null or cs.term_id = $1) and ($2::text is null or cs.department_id = $2)
        and not exists (select 1 from sessions s where s.change_id = ch.id and s.origin = 'extra')`,
    [termId ?? null, departmentId ?? null, from, to],
  );
  for (const change of rows) {
    const want: Desired = {
      termId: change.termId,
      campusId: change.campusId,
      startsAt: localToInstant(change.newDate!, change.newStartsAt!, change.timeZone),
      endsAt: localToInstant(change.newDate!, change.newEndsAt!, change.timeZone),
      roomId: change.newRoomId,
      facultyId: change.substituteFacultyId,
      state: 'scheduled',
      cancelledReason: null,
      changeId: change.id,
      groups: [{ sectionId: change.sectionId!, subgroupId: null }],
    };
    if (want.startsAt <= now) {
      result.skippedPast++;
      continue;
    }
    await insertSession(tx, want, { origin: 'extra', slotId: null, slotDate: null, now });
    result.created++;
  }
}

async function insertSession(
  tx: Queryable,
  want: Desired,
  { origin, slotId, slotDate, now }: { origin: 'timetable' | 'extra'; slotId: string | null; slotDate: string | null; now: Date },
): Promise<void> {
  const id = uuidv7(now.getTime());
  await tx.query(
    `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, cancelled_reason, slot_id, slot_date, change_id, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
    [id, want.termId, want.campusId, want.startsAt, want.endsAt, want.roomId, want.facultyId, want.state, origin, want.cancelledReason, slotId, slotDate, want.changeId, now],
  );
  await replaceGroups(tx, id, want.groups);
}

/**
 * Takes a scheduled session out of the timetable. One that already carries
 * ledger events (approved leave projected onto it) cannot be deleted, the
 * ledger being append-only: it is cancelled instead, and the leave
 * re-projection then withdraws those events.
 */
export async function removeScheduledSession(tx: Queryable, sessionId: string, now: Date): Promise<void> {
  const deleted = await tx.query(
    `delete from sessions where id = $1 and state = 'scheduled' and not exists (select 1 from attendance_events e where e.session_id = $1) returning id`,
    [sessionId],
  );
  if (deleted.rows.length === 0) {
    await tx.query(`update sessions set state = 'cancelled', cancelled_reason = 'no longer in the timetable', updated_at = $2 where id = $1 and state = 'scheduled'`, [sessionId, now]);
  }
}

export async function replaceGroups(tx: Queryable, sessionId: string, groups: readonly SessionGroup[]): Promise<void> {
  await tx.query('delete from session_groups where session_id = $1', [sessionId]);
  for (const group of groups) {
    await tx.query('insert into session_groups (session_id, section_id, subgroup_id) values ($1, $2, $3)', [sessionId, group.sectionId, group.subgroupId]);
  }
}

/**
 * After a timetable edit: regenerate the term's already generated future,
 * from yesterday in UTC (earlier than today anywhere, and generation never
 * touches what has started) to the last generated occurrence, or to
 * `through` when that is later (an extra class after it), so that scheduled
 * sessions follow the edit. A term with nothing generated is left alone.
 */
export async function regenerateGenerated(tx: Queryable, termId: string, now: Date, through?: string): Promise<GenerateResult | null> {
  const { rows } = await tx.query<{ last: string | null }>(`select max(slot_date)::text as last from sessions where term_id = $1 and slot_id is not null`, [termId]);
  const generatedThrough = rows[0]?.last;
  if (!generatedThrough) return null;
  const last = through && through > generatedThrough ? through : generatedThrough;
  const yesterday = addDays(now.toISOString().slice(0, 10), -1);
  if (last < yesterday) return null;
  return generateSessions(tx, { termId, from: yesterday, to: last, now });
}
