import type { Queryable } from '../db/db.js';

/** Why a tap marked nobody (docs/ledger.md, "Matching taps"). */
export const UNMATCHED_REASONS = ['unknown_device', 'unknown_student', 'not_enrolled', 'no_session', 'outside_window', 'duplicate'] as const;
export type UnmatchedReason = (typeof UNMATCHED_REASONS)[number];

export interface NewUnmatchedTap {
  eventId: string;
  reason: UnmatchedReason;
  details: Record<string, unknown>;
}

/** Records taps that marked nobody, in one statement; a tap already recorded is left as it is. */
export async function insertUnmatchedTaps(tx: Queryable, taps: readonly NewUnmatchedTap[], now: number): Promise<void> {
  if (taps.length === 0) return;
  await tx.query(
    `insert into unmatched_taps (event_id, reason, details, created_at)
     select u.event_id, u.reason, u.details::jsonb, $4 from unnest($1::uuid[], $2::text[], $3::text[]) as u(event_id, reason, details)
     on conflict do nothing`,
    [taps.map((tap) => tap.eventId), taps.map((tap) => tap.reason), taps.map((tap) => JSON.stringify(tap.details)), new Date(now).toISOString()],
  );
}

export interface UnmatchedTap {
  eventId: string;
  reason: UnmatchedReason;
  details: Record<string, unknown>;
  createdAt: Date;
  resolvedAt: Date | null;
  resolution: string | null;
  campusId: string;
  deviceId: string;
  method: string;
  subject: string;
  tappedAt: Date;
}

export interface UnmatchedFilter {
  reason?: UnmatchedReason;
  from?: string;
  to?: string;
  before?: { createdAt: string; eventId: string };
}

/** Unmatched taps, newest first, with the tap they are about. */
export async function listUnmatchedTaps(q: Queryable, filter: UnmatchedFilter, limit: number): Promise<UnmatchedTap[]> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  const add = (condition: (n: number) => string, ...values: unknown[]) => {
    const first = params.length + 1;
    params.push(...values);
    conditions.push(condition(first));
  };
  if (filter.reason) add((n) => `u.reason = $${n}`, filter.reason);
  if (filter.from) add((n) => `u.created_at >= $${n}`, filter.from);
  if (filter.to) add((n) => `u.created_at < $${n}`, filter.to);
  if (filter.before) add((n) => `(u.created_at, u.event_id) < ($${n}::timestamptz, $${n + 1}::uuid)`, filter.before.createdAt, filter.before.eventId);
  params.push(limit);
  const { rows } = await q.query<UnmatchedTap>(
    `select u.event_id as "eventId", u.reason, u.details, u.created_at as "createdAt", u.resolved_at as "resolvedAt", u.resolution,
            e.campus_id as "campusId", e.device_id as "deviceId", e.method, e.subject, coalesce(e.device_time, e.received_at) as "tappedAt"
       from unmatched_taps u join events e on e.id = u.event_id
      ${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''}
      order by u.created_at desc, u.event_id desc
      limit $${params.length}`,
    params,
  );
  return rows;
}
