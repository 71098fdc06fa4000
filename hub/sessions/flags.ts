import type { Scope } from '../auth/rules.js';
import type { Queryable } from '../db/db.js';
import { sessionScopeCondition } from './queries.js';

export const FLAG_KINDS = ['not_taken', 'escalated', 'finalize_timeout'] as const;
export type FlagKind = (typeof FLAG_KINDS)[number];

export interface SessionFlag {
  id: string;
  sessionId: string;
  kind: FlagKind;
  details: Record<string, unknown>;
  createdAt: Date;
  resolvedAt: Date | null;
}

export interface FlagFilter {
  kind?: FlagKind;
  sessionId?: string;
  /** true: unresolved only; false: resolved only. */
  open?: boolean;
  /** The keyset: flags before this (created_at, id). */
  before?: { at: string; id: string };
}

/**
 * Flags of the sessions the scope may see, newest first. Flags are about
 * teachers' work, not students' own records: a student's scope sees none.
 */
export async function listFlags(db: Queryable, scope: Scope, filter: FlagFilter, limit: number): Promise<SessionFlag[]> {
  const params: unknown[] = [];
  const conditions = [scope.kind === 'self' ? 'false' : sessionScopeCondition(scope, params)];
  if (filter.kind) {
    params.push(filter.kind);
    conditions.push(`f.kind = $${params.length}`);
  }
  if (filter.sessionId) {
    params.push(filter.sessionId);
    conditions.push(`f.session_id = $${params.length}`);
  }
  if (filter.open !== undefined) conditions.push(filter.open ? 'f.resolved_at is null' : 'f.resolved_at is not null');
  if (filter.before) {
    params.push(filter.before.at, filter.before.id);
    conditions.push(`(f.created_at, f.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(limit);
  const { rows } = await db.query<SessionFlag>(
    `select f.id, f.session_id as "sessionId", f.kind, f.details, f.created_at as "createdAt", f.resolved_at as "resolvedAt"
       from session_flags f join sessions s on s.id = f.session_id
      where ${conditions.join(' and ')}
      order by f.created_at desc, f.id desc limit $${params.length}`,
    params,
  );
  return rows;
}
