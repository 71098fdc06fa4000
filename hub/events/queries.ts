import type { Queryable } from '../db/db.js';

export interface EventFilter {
  campusId?: string;
  agentId?: string;
  deviceId?: string;
  subject?: string;
  method?: string;
  /** received_at ≥ from */
  from?: string;
  /** received_at < to */
  to?: string;
  /** Only events older (by id) than this one: the keyset cursor. */
  beforeId?: string;
}

export interface StoredEvent {
  id: string;
  campusId: string;
  agentId: string;
  deviceId: string;
  kind: string;
  method: string;
  subject: string;
  deviceTime: Date | null;
  receivedAt: Date;
  ingestedAt: Date;
  deviceKey: string | null;
  score: number | null;
}

const FILTER_COLUMNS: [keyof EventFilter, string][] = [
  ['campusId', 'campus_id = $'],
  ['agentId', 'agent_id = $'],
  ['deviceId', 'device_id = $'],
  ['subject', 'subject = $'],
  ['method', 'method = $'],
  ['from', 'received_at >= $'],
  ['to', 'received_at < $'],
  ['beforeId', 'id < $'],
];

/** Newest first by event id (UUIDv7, so by the time the agent made it), keyset-paged. */
export async function listEvents(db: Queryable, filter: EventFilter, limit: number): Promise<StoredEvent[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const [key, condition] of FILTER_COLUMNS) {
    const value = filter[key];
    if (value === undefined) continue;
    params.push(value);
    conditions.push(`${condition}${params.length}`);
  }
  params.push(limit);
  const { rows } = await db.query<StoredEvent>(
    `select id, campus_id as "campusId", agent_id as "agentId", device_id as "deviceId", kind, method, subject,
            device_time as "deviceTime", received_at as "receivedAt", ingested_at as "ingestedAt",
            device_key as "deviceKey", score
       from events
      ${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''}
      order by id desc
      limit $${params.length}`,
    params,
  );
  return rows;
}
