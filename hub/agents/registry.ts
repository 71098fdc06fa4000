import type { Logger } from 'pino';
import { appendAudit, type AuditContext } from '../audit/append.js';
import {
  COMMANDS,
  PROTOCOL_VERSION,
  agentApiValidators,
  decode,
  uuidv7,
  validator,
  type AgentAddress,
  type CommandOp,
  type CommandRequest,
  type CommandResponse,
} from '../../protocol/index.js';
import type { Db } from '../db/db.js';
import type { HubMetrics } from '../metrics/metrics.js';
import { completeCommand, findAgent, insertCommand, upsertAgentHealth, upsertAgentStatus } from './queries.js';

export interface CommandOutcome {
  transaction: string;
  status: 'ok' | 'error' | 'timeout';
  result?: unknown;
  error?: { code: string; message: string };
}

/** What the command record and the audit log keep of a command, when not all of it. */
export interface CommandRecordOptions {
  params?: unknown;
  result?: (result: unknown) => unknown;
}

export class UnknownAgentError extends Error {
  override readonly name = 'UnknownAgentError';
}

export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
}

export interface AgentRegistryOptions {
  db: Db;
  metrics: HubMetrics;
  logger: Logger;
  publishCommand(address: AgentAddress, request: CommandRequest): Promise<void>;
  commandTimeoutMs: number;
}

const paramValidators = Object.fromEntries(Object.entries(COMMANDS).map(([op, spec]) => [op, validator(spec.params)]));

/**
 * What the hub knows of its agents: retained status and health, and the
 * commands sent to them. Every command is recorded with who asked and why
 * before it is sent, and its result when it comes back.
 */
export function createAgentRegistry(options: AgentRegistryOptions) {
  const { db, metrics, publishCommand, commandTimeoutMs } = options;
  const log = options.logger.child({ ns: 'hub:agents' });
  const online = new Set<string>();
  const pending = new Map<string, { agentId: string; recordResult(result: unknown): unknown; resolve(outcome: CommandOutcome): void }>();

  async function handleStatus(address: AgentAddress, payload: Buffer): Promise<void> {
    // An empty retained message clears the topic; there is nothing to record.
    if (payload.length === 0) return;
    const decoded = decode(payload, agentApiValidators.status);
    if (!decoded.ok) {
      metrics.rejectedMessages.inc({ reason: decoded.error.code });
      log.warn({ ...address, reason: decoded.error.message }, 'refused a status message');
      return;
    }
    if (decoded.value.state === 'online') online.add(address.agentId);
    else online.delete(address.agentId);
    metrics.agentsConnected.set(online.size);
    await upsertAgentStatus(db, address.campusId, address.agentId, decoded.value);
    log.info({ ...address, state: decoded.value.state }, 'agent status');
  }

  async function handleHealth(address: AgentAddress, payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    const decoded = decode(payload, agentApiValidators.health);
    if (!decoded.ok) {
      metrics.rejectedMessages.inc({ reason: decoded.error.code });
      log.warn({ ...address, reason: decoded.error.message }, 'refused a health message');
      return;
    }
    metrics.agentOutboxDepth.set({ agent: address.agentId }, decoded.value.outbox.depth);
    metrics.agentQuarantined.set({ agent: address.agentId }, decoded.value.quarantine.count);
    await upsertAgentHealth(db, address.campusId, address.agentId, decoded.value);
  }

  async function handleCommandResponse(address: AgentAddress, payload: Buffer): Promise<void> {
    const decoded = decode(payload, agentApiValidators['cmd/res']);
    if (!decoded.ok) {
      metrics.rejectedMessages.inc({ reason: decoded.error.code });
      log.warn({ ...address, reason: decoded.error.message }, 'refused a command response');
      return;
    }
    const response: CommandResponse = decoded.value;
    const waiter = pending.get(response.transaction);
    // A response from another agent than the one asked is ignored, not trusted.
    if (!waiter || waiter.agentId !== address.agentId) return;
    pending.delete(response.transaction);
    await completeCommand(db, address.agentId, response.result === undefined ? response : { ...response, result: waiter.recordResult(response.result) });
    waiter.resolve({
      transaction: response.transaction,
      status: response.status,
      ...(response.result !== undefined ? { result: response.result } : {}),
      ...(response.error ? { error: response.error } : {}),
    });
  }

  /**
   * `record` replaces the params (and maps the result) kept in the command
   * record and the audit log, for commands that carry data that must not
   * outlive its purpose there (template envelopes: a lasting copy would
   * survive crypto-shredding; rolls of students).
   */
  async function sendCommand(agentId: string, op: CommandOp, params: unknown, context: AuditContext, reason: string | null, record: CommandRecordOptions = {}): Promise<CommandOutcome> {
    const recordedParams = 'params' in record ? record.params : params;
    const recordResult = record.result ?? ((result: unknown) => result);
    const agent = await findAgent(db, agentId);
    if (!agent) throw new UnknownAgentError(`no agent ${JSON.stringify(agentId)} has reported to this hub`);
    const checker = paramValidators[op];
    if (!checker) throw new InvalidCommandError(`unknown command ${JSON.stringify(op)}`);
    if (!checker.check(params)) throw new InvalidCommandError(`params of ${op}: ${checker.explain(params)}`);
    const transaction = uuidv7();
    const requestedBy = context.actor;
    await db.transaction(async (tx) => {
      await insertCommand(tx, { transaction, agentId, op, params: recordedParams, requestedBy, reason });
      await appendAudit(tx, { ...context, action: `agent.command.${op}`, target: `agent:${agent.campusId}/${agentId}`, after: { transaction, params: recordedParams }, reason });
    });
    log.info({ agentId, op, transaction, requestedBy, reason }, 'command sent');
    const outcome = new Promise<CommandOutcome>((resolve) => {
      pending.set(transaction, { agentId, recordResult, resolve });
    });
    const request = { v: PROTOCOL_VERSION, transaction, op, params, sentAt: new Date().toISOString() } as CommandRequest;
    await publishCommand({ campusId: agent.campusId, agentId }, request);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CommandOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ transaction, status: 'timeout' }), commandTimeoutMs);
    });
    const result = await Promise.race([outcome, timeout]);
    clearTimeout(timer);
    if (result.status === 'timeout') {
      pending.delete(transaction);
      await completeCommand(db, agentId, { transaction, status: 'timeout' });
    }
    return result;
  }

  return { handleStatus, handleHealth, handleCommandResponse, sendCommand, onlineCount: () => online.size };
}

export type AgentRegistry = ReturnType<typeof createAgentRegistry>;
