import type { Queryable } from '../db/db.js';
import type { AgentHealth, AgentStatus, CommandResponse } from '../../protocol/index.js';

export interface AgentRow {
  agentId: string;
  campusId: string;
  state: string;
  stateSince: string | null;
  version: string | null;
  health: AgentHealth | null;
  healthAt: string | null;
  lastSeenAt: string;
}

const AGENT_COLUMNS = `agent_id as "agentId", campus_id as "campusId", state, state_since as "stateSince", version,
  health, health_at as "healthAt", last_seen_at as "lastSeenAt"`;

export async function upsertAgentStatus(db: Queryable, campusId: string, agentId: string, status: AgentStatus): Promise<void> {
  await db.query(
    `insert into agents (agent_id, campus_id, state, state_since, version, last_seen_at)
     values ($1, $2, $3, $4, $5, now())
     on conflict (agent_id) do update
       set campus_id = excluded.campus_id, state = excluded.state, state_since = excluded.state_since,
           version = excluded.version, last_seen_at = now()`,
    [agentId, campusId, status.state, status.since, status.version],
  );
}

export async function upsertAgentHealth(db: Queryable, campusId: string, agentId: string, health: AgentHealth): Promise<void> {
  await db.query(
    `insert into agents (agent_id, campus_id, health, health_at, last_seen_at)
     values ($1, $2, $3, $4, now())
     on conflict (agent_id) do update
       set campus_id = excluded.campus_id, health = excluded.health, health_at = excluded.health_at, last_seen_at = now()`,
    [agentId, campusId, JSON.stringify(health), health.at],
  );
}

export async function listAgents(db: Queryable): Promise<AgentRow[]> {
  const { rows } = await db.query<AgentRow>(`select ${AGENT_COLUMNS} from agents order by agent_id`);
  return rows;
}

export async function findAgent(db: Queryable, agentId: string): Promise<AgentRow | undefined> {
  const { rows } = await db.query<AgentRow>(`select ${AGENT_COLUMNS} from agents where agent_id = $1`, [agentId]);
  return rows[0];
}

export interface CommandRecord {
  transaction: string;
  agentId: string;
  op: string;
  params: unknown;
  requestedBy: string;
  reason: string | null;
}

export async function insertCommand(db: Queryable, command: CommandRecord): Promise<void> {
  await db.query(
    `insert into agent_commands (transaction, agent_id, op, params, requested_by, reason) values ($1, $2, $3, $4, $5, $6)`,
    [command.transaction, command.agentId, command.op, JSON.stringify(command.params), command.requestedBy, command.reason],
  );
}

export async function completeCommand(db: Queryable, agentId: string, response: CommandResponse | { transaction: string; status: 'timeout' }): Promise<void> {
  const result = 'result' in response && response.result !== undefined ? JSON.stringify(response.result) : null;
  const error = 'error' in response && response.error ? JSON.stringify(response.error) : null;
  await db.query(
    `update agent_commands set status = $3, result = $4, error = $5, completed_at = now()
     where transaction = $1 and agent_id = $2 and status = 'pending'`,
    [response.transaction, agentId, response.status, result, error],
  );
}
