import { generateCampus, importFiles } from '../../fixtures/generate.js';
import type { Hub } from '../../hub/app.js';
import type { Queryable } from '../../hub/db/db.js';
import { generateSessions } from '../../hub/sessions/generate.js';
import { addDays, isoWeekday, localDateOf, localToInstant } from '../../hub/sessions/localTime.js';
import { loadGeneratedFiles } from './fixtures.js';

const DEMO_STUDENTS = 240;
const DEMO_SEED = 1;
const TIMEZONE = 'Asia/Kolkata';
const DEMO_ROOM = 'R101';
const HOUR_MS = 3_600_000;

/** The Monday `weeks` weeks before the week of `date`. */
function mondayWeeksBefore(date: string, weeks: number): string {
  return addDays(date, -(isoWeekday(date) - 1) - 7 * weeks);
}

/**
 * Opens, if it is not there yet, the demo room's session of the current
 * hour. Generation never creates a session that has already started, so
 * the one under way when the demo starts is made here, from its slot.
 */
async function openCurrentDemoSession(db: Queryable, now: Date): Promise<void> {
  const today = localDateOf(now, TIMEZONE);
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: TIMEZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(now);
  const { rows } = await db.query<{ id: string; term_id: string; campus_id: string; starts_at: string; ends_at: string; faculty_id: string | null }>(
    `select id, term_id, campus_id, starts_at::text as starts_at, ends_at::text as ends_at, faculty_id from timetable_slots
      where room_id = $1 and weekday = $2 and starts_at <= $3::time and ends_at > $3::time`,
    [DEMO_ROOM, isoWeekday(today), time],
  );
  const slot = rows[0];
  if (!slot) return;
  const inserted = await db.query<{ id: string }>(
    `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, opened_at, slot_id, slot_date)
     values (gen_random_uuid(), $1, $2, $3, $4, $5, $6, 'open', 'timetable', $7, $8, $9)
     on conflict (slot_id, slot_date) where slot_id is not null do nothing
     returning id`,
    [slot.term_id, slot.campus_id, localToInstant(today, slot.starts_at, TIMEZONE), localToInstant(today, slot.ends_at, TIMEZONE), DEMO_ROOM, slot.faculty_id, now, slot.id, today],
  );
  const session = inserted.rows[0];
  if (session) await db.query('insert into session_groups (session_id, section_id, subgroup_id) select $1, section_id, subgroup_id from timetable_slot_groups where slot_id = $2', [session.id, slot.id]);
}

async function scheduleDemoSessions(tx: Queryable, now: Date): Promise<void> {
  const today = localDateOf(now, TIMEZONE);
  await openCurrentDemoSession(tx, now);
  await generateSessions(tx, { from: today, to: addDays(today, 1), now });
}

/**
 * The demo's campus: on a fresh database, a generated college whose term
 * started four weeks ago, with the demo room (door-101) in session every
 * hour of every day for the demo scanner's students. Today's and
 * tomorrow's sessions are generated, the current one is open, and an hourly
 * job keeps generating ahead, so the demo's taps always land in a session.
 */
export async function prepareDemoCampus(hub: Hub, now: () => number): Promise<void> {
  const { rows } = await hub.db.query<{ n: number }>('select count(*)::int as n from students');
  if (rows[0]!.n === 0) {
    const termStartsOn = mondayWeeksBefore(localDateOf(new Date(now()), TIMEZONE), 4);
    await loadGeneratedFiles(hub.db, importFiles(generateCampus({ students: DEMO_STUDENTS, seed: DEMO_SEED, demoHours: true, termStartsOn })), { actor: 'demo', source: 'cli' });
  }
  await hub.db.transaction((tx) => scheduleDemoSessions(tx, new Date(now())));
  hub.scheduler.register('demo.sessions', HOUR_MS, (tx, at) => scheduleDemoSessions(tx, at));
  await hub.scheduler.runDue();
}
