import type { CommandParams, OfflineSession } from '../../protocol/index.js';
import type { Queryable } from '../db/db.js';

/**
 * What a campus's agents need to decide at the door while the hub is away:
 * the campus's sessions of the local day of `at` (not cancelled), the door
 * devices of each session's room, and each session's roll with the
 * students' device user ids, plus the hub's personal-QR public key.
 */
export async function buildOfflineCache(q: Queryable, campusId: string, at: Date, openBeforeMinutes: number, personalQrPublicKey: string): Promise<CommandParams<'offline.cache'>> {
  const { rows: days } = await q.query<{ day: string }>(`select to_char(($2::timestamptz at time zone timezone)::date, 'YYYY-MM-DD') as day from campuses where id = $1`, [campusId, at]);
  const day = days[0]?.day;
  if (!day) throw new Error(`no campus ${campusId}`);
  const { rows } = await q.query<{ id: string; room_id: string | null; starts_at: Date; ends_at: Date; device_ids: string[]; students: { studentId: string; deviceUserId: string | null }[] | null }>(
    `select s.id, s.room_id, s.starts_at, s.ends_at,
            array(select rd.device_id from room_devices rd where rd.campus_id = s.campus_id and rd.room_id = s.room_id order by rd.device_id) as device_ids,
            (select json_agg(json_build_object('studentId', st.id, 'deviceUserId', st.device_user_id) order by st.id)
               from session_roll r join students st on st.id = r.student_id where r.session_id = s.id) as students
       from sessions s join campuses c on c.id = s.campus_id
      where s.campus_id = $1 and s.state <> 'cancelled' and to_char((s.starts_at at time zone c.timezone)::date, 'YYYY-MM-DD') = $2
      order by s.starts_at, s.id`,
    [campusId, day],
  );
  const sessions: OfflineSession[] = rows.map((row) => ({
    sessionId: row.id,
    roomId: row.room_id,
    deviceIds: row.device_ids,
    startsAt: new Date(row.starts_at).toISOString(),
    endsAt: new Date(row.ends_at).toISOString(),
    openBeforeMinutes,
    students: row.students ?? [],
  }));
  return { day, issuedAt: at.toISOString(), personalQrPublicKey, sessions };
}
