import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../hub/db/db.js';
import { CAMPUS_IDS } from './campus.js';

/** Monday 3 August 2026, 09:00 in Kolkata: the small campus's first CS301 theory lecture. */
export const FIRST_LECTURE_START = Date.parse('2026-08-03T03:30:00Z');

export interface TestSession {
  id?: string;
  startsAt?: number;
  minutes?: number;
  roomId?: string | null;
  facultyId?: string | null;
  state?: 'scheduled' | 'open' | 'closed' | 'cancelled';
  finalized?: boolean;
  groups?: { sectionId: string; subgroupId?: string | null }[];
}

/**
 * Inserts a session of the small campus (seedSmallCampus first) with plain
 * SQL; by default the CS301 theory lecture at 09:00 on 3 August 2026 in
 * R101, taught by Dr. Rao, open.
 */
export async function insertSession(db: Queryable, spec: TestSession = {}): Promise<string> {
  const id = spec.id ?? randomUUID();
  const startsAt = spec.startsAt ?? FIRST_LECTURE_START;
  const state = spec.state ?? 'open';
  await db.query(
    `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, opened_at, finalized_at)
     values ($1, '2026-odd', 'main', $2, $3, $4, $5, $6, 'manual', $7, $8)`,
    [
      id,
      new Date(startsAt).toISOString(),
      new Date(startsAt + (spec.minutes ?? 50) * 60_000).toISOString(),
      spec.roomId === undefined ? 'R101' : spec.roomId,
      spec.facultyId === undefined ? CAMPUS_IDS.facultyCs : spec.facultyId,
      state,
      state === 'scheduled' ? null : new Date(startsAt).toISOString(),
      spec.finalized ? new Date(startsAt + 3 * 3_600_000).toISOString() : null,
    ],
  );
  for (const group of spec.groups ?? [{ sectionId: CAMPUS_IDS.theory }]) {
    await db.query('insert into session_groups (session_id, section_id, subgroup_id) values ($1, $2, $3)', [id, group.sectionId, group.subgroupId ?? null]);
  }
  return id;
}
