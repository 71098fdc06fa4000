import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/db.js';

/** Where a change came from. */
export type AuditSource = 'http' | 'mqtt' | 'cli' | 'system';

/** Who did it, from where: the same for every entry one request writes. */
export interface AuditContext {
  actor: string;
  source: AuditSource;
  requestId?: string | null;
  ip?: string | null;
}

export interface AuditEntry extends AuditContext {
  /** Dotted verb, e.g. `auth.login`, `user.role.change`, `pki.certificate.revoke`. */
  action: string;
  /** What it was done to, e.g. `user:0190…`, `agent:campus-a/agent-1`. */
  target?: string | null;
  /** State before and after, without secrets or personal plaintext. */
  before?: unknown;
  after?: unknown;
  reason?: string | null;
  outcome?: 'success' | 'failure';
}

/**
 * Appends one entry within the caller's transaction, so that the change and
 * its entry commit together or not at all. The sealer chains it later.
 */
export async function appendAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  await tx.query(
    `insert into audit_log (actor, action, target, before, after, reason, source, request_id, ip, outcome)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      entry.actor,
      entry.action,
      entry.target ?? null,
      entry.before === undefined ? null : JSON.stringify(entry.before),
      entry.after === undefined ? null : JSON.stringify(entry.after),
      entry.reason ?? null,
      entry.source,
      entry.requestId ?? null,
      entry.ip ?? null,
      entry.outcome ?? 'success',
    ],
  );
}

/** The audit context of an HTTP request: its principal (or `anonymous`), request id and client address. */
export function auditContextOf(request: FastifyRequest): AuditContext {
  return { actor: request.principal?.id ?? 'anonymous', source: 'http', requestId: request.id, ip: request.ip };
}

/**
 * The one entry a committed ingest write gets (not one per tap: the taps are
 * in `events` and their marks in `attendance_events`). It names the agents
 * and counts, never the subjects tapped.
 */
export async function appendIngestAudit(tx: Queryable, rows: readonly { campusId: string; agentId: string }[], inserted: number): Promise<void> {
  const agents = [...new Set(rows.map((row) => `${row.campusId}/${row.agentId}`))].sort();
  await appendAudit(tx, {
    actor: 'system:ingest',
    source: 'mqtt',
    action: 'ingest.batch',
    target: agents.length === 1 ? `agent:${agents[0]}` : null,
    after: { agents, rows: rows.length, inserted, duplicates: rows.length - inserted },
  });
}
