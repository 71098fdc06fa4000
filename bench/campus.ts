/**
 * A class change on a generated campus, shared by the benchmarks: the busiest
 * slot of the week, its sessions opened now, and each student's tap at the
 * door of their room.
 */
import { randomUUID } from 'node:crypto';
import { createRandom } from '../fixtures/generate.js';
import type { Hub } from '../hub/app.js';

const CLASS_MINUTES = 50;

export interface PlannedTap {
  /** What the student scans: their device user id. */
  code: string;
  deviceId: string;
  /** When in the window the student scans, ms. */
  offsetMs: number;
}

/** The slot of the week (weekday, start) at which the most students have a class. */
export async function busiestSlot(hub: Hub): Promise<{ weekday: number; startsAt: string; students: number }> {
  const { rows } = await hub.db.query<{ weekday: number; starts_at: string; students: number }>(
    `select t.weekday, t.starts_at::text as starts_at, count(distinct e.student_id)::int as students
       from timetable_slots t
       join timetable_slot_groups g on g.slot_id = t.id
       join enrolments e on e.section_id = g.section_id and (g.subgroup_id is null or e.subgroup_id = g.subgroup_id)
      group by t.weekday, t.starts_at
      order by students desc, t.weekday, t.starts_at
      limit 1`,
  );
  const row = rows[0];
  if (!row) throw new Error('the generated campus has no timetable');
  return { weekday: row.weekday, startsAt: row.starts_at, students: row.students };
}

/**
 * Opens, now, one session per slot of the busiest slot of the week, starting
 * when the window ends: the class change the taps walk into.
 */
export async function openClassChangeSessions(hub: Hub, slot: { weekday: number; startsAt: string }, startsAt: Date): Promise<number> {
  const endsAt = new Date(startsAt.getTime() + CLASS_MINUTES * 60_000);
  const { rows: slots } = await hub.db.query<{ id: string; term_id: string; campus_id: string; room_id: string; faculty_id: string | null }>(
    'select id, term_id, campus_id, room_id, faculty_id from timetable_slots where weekday = $1 and starts_at = $2::time',
    [slot.weekday, slot.startsAt],
  );
  await hub.db.transaction(async (tx) => {
    for (const row of slots) {
      const id = randomUUID();
      await tx.query(
        `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, opened_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'open', 'manual', $8)`,
        [id, row.term_id, row.campus_id, startsAt, endsAt, row.room_id, row.faculty_id, new Date()],
      );
      await tx.query('insert into session_groups (session_id, section_id, subgroup_id) select $1, section_id, subgroup_id from timetable_slot_groups where slot_id = $2', [id, row.id]);
    }
  });
  return slots.length;
}

/** Each student on the roll of an open session scans at a door of its room, at a random moment of the window. */
export async function planTaps(hub: Hub, windowMs: number, seed: number): Promise<PlannedTap[]> {
  const { rows } = await hub.db.query<{ code: string; device_id: string }>(
    `select st.device_user_id as code, min(d.device_id) as device_id
       from sessions s
       join session_roll r on r.session_id = s.id
       join students st on st.id = r.student_id
       join room_devices d on d.room_id = s.room_id and d.campus_id = s.campus_id
      where s.state = 'open'
      group by s.id, st.device_user_id`,
  );
  const random = createRandom(seed);
  return rows.map((row) => ({ code: row.code, deviceId: row.device_id, offsetMs: Math.floor(random() * windowMs) })).sort((a, b) => a.offsetMs - b.offsetMs);
}
