import {
  agentApiValidators,
  decode,
  isUuid,
  validator,
  TapEvent,
  type AgentAddress,
  type DecodeError,
  type EventBatch,
  type Rejection,
} from '../../protocol/index.js';

/**
 * The steps of ingest, in order: decode → validate → dedupe → persist → ack.
 * Each is a named function; `pipeline.ts` runs them. See docs/protocol.md,
 * "Events and acknowledgements".
 */

export interface EventRow {
  id: string;
  campusId: string;
  agentId: string;
  deviceId: string;
  kind: string;
  method: string;
  subject: string;
  deviceTime: string | null;
  receivedAt: string;
  deviceKey: string | null;
  score: number | null;
  /** The agent flagged the device clock as more than 5 minutes off; deviceTime is as the device stamped it. */
  clockSuspect?: boolean;
}

/** A batch that passed decode and validate: its good rows and its rejections. */
export interface CheckedBatch {
  address: AgentAddress;
  batchId: string;
  rows: EventRow[];
  rejected: Rejection[];
  /** Events without a usable id: they cannot be named in an ack, only counted. */
  unidentified: number;
}

/** Step 1: bytes → a batch envelope, or the reason the whole message is refused. */
export function decodeBatch(payload: Buffer, maxBytes: number): { ok: true; batch: EventBatch } | { ok: false; error: DecodeError } {
  const decoded = decode(payload, agentApiValidators.events, maxBytes);
  return decoded.ok ? { ok: true, batch: decoded.value } : decoded;
}

const tapValidator = validator(TapEvent);

/** Step 2: each event on its own, so one bad event is rejected by id and the rest commit. */
export function validateEvents(address: AgentAddress, batch: EventBatch): CheckedBatch {
  const rows: EventRow[] = [];
  const rejected: Rejection[] = [];
  let unidentified = 0;
  batch.events.forEach((event, index) => {
    if (tapValidator.check(event)) {
      rows.push({
        id: event.id,
        campusId: address.campusId,
        agentId: address.agentId,
        deviceId: event.deviceId,
        kind: event.kind,
        method: event.method,
        subject: event.subject,
        deviceTime: event.deviceTime,
        receivedAt: event.receivedAt,
        deviceKey: event.deviceKey ?? null,
        score: event.score ?? null,
        clockSuspect: event.clockSuspect ?? false,
      });
    } else if (isUuid(event.id)) {
      rejected.push({ id: event.id, reason: `schema: events/${index}${tapValidator.explain(event)}`.slice(0, 1000) });
    } else {
      unidentified++;
    }
  });
  return { address, batchId: batch.batchId, rows, rejected, unidentified };
}

/**
 * Step 3: one row per event id across everything written together. Postgres
 * refuses an INSERT … ON CONFLICT that meets the same key twice in one
 * statement, and a redelivered batch may share a write with its original.
 */
export function dedupeRows(batches: readonly CheckedBatch[]): EventRow[] {
  const byId = new Map<string, EventRow>();
  for (const batch of batches) for (const row of batch.rows) if (!byId.has(row.id)) byId.set(row.id, row);
  return [...byId.values()];
}
