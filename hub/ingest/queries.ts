import type { Queryable } from '../db/db.js';
import type { EventRow } from './steps.js';

/**
 * Step 4 (persist): one statement for any number of rows, each column passed
 * as one array parameter. Events already stored (same id, or the same device
 * log record) are skipped. Returns the ids that were new.
 */
export async function insertEvents(tx: Queryable, rows: readonly EventRow[]): Promise<string[]> {
  const { rows: inserted } = await tx.query<{ id: string }>(
    `insert into events (id, campus_id, agent_id, device_id, kind, method, subject, device_time, received_at, device_key, score, clock_suspect)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[], $9::timestamptz[], $10::text[], $11::real[], $12::boolean[])
     on conflict do nothing
     returning id`,
    [
      rows.map((row) => row.id),
      rows.map((row) => row.campusId),
      rows.map((row) => row.agentId),
      rows.map((row) => row.deviceId),
      rows.map((row) => row.kind),
      rows.map((row) => row.method),
      rows.map((row) => row.subject),
      rows.map((row) => row.deviceTime),
      rows.map((row) => row.receivedAt),
      rows.map((row) => row.deviceKey),
      rows.map((row) => row.score),
      rows.map((row) => row.clockSuspect ?? false),
    ],
  );
  return inserted.map((row) => row.id);
}
