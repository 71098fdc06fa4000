import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { encodeEnvelope, recipientKeyId, templateContext, type CommandOp, type CommandResult, type TemplateDelivery } from '../../protocol/index.js';
import type { AgentRegistry, CommandOutcome, CommandRecordOptions } from '../agents/registry.js';
import { UnknownAgentError } from '../agents/registry.js';
import { appendAudit, type AuditContext } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { envelopeForRecipient, type Keyring } from '../keys/index.js';
import {
  agentCertificates,
  confirmRemoval,
  confirmableWithdrawals,
  deliveriesOfAgent,
  pendingRemovals,
  setDeliveryState,
  studentsOfTemplates,
  templatesForCampus,
  upsertDelivery,
  upsertDeviceSync,
  type DeliverableTemplate,
} from './queries.js';

/** Templates per `templates.put` command: each is a few kB with its RSA-wrapped key, well under the message limit. */
const PUT_BATCH = 50;

export interface AgentDistribution {
  agentId: string;
  /** How the last command to the agent went; `unknown_agent` when it never reported. */
  status: CommandOutcome['status'] | 'unknown_agent';
  sent: number;
  stored: number;
  refused: number;
  removed: number;
}

export interface DistributorOptions {
  db: Db;
  keyring: Keyring;
  registry: Pick<AgentRegistry, 'sendCommand'>;
  logger: Logger;
  now: () => number;
  /** A template goes to a campus whose sessions on the student's roll end after now − lookbehind and start before now + lookahead. */
  lookbehindMs?: number;
  lookaheadMs?: number;
}

export const TEMPLATE_OWNER = (templateId: string) => `template:${templateId}`;

/** Device outcomes counted by state, for the audit log. */
function deviceSummary(devices: CommandResult<'templates.put'>['devices']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const device of devices) counts[device.state] = (counts[device.state] ?? 0) + 1;
  return counts;
}

/**
 * Hands templates to the agents that need them and takes them back. An
 * agent gets the templates of students with consent on record who are on
 * the roll of a session on its campus (around now); each template's data key
 * is re-wrapped for that agent's own RSA key, read from its current
 * certificate, so the hub's KEK never leaves the hub and another campus's
 * agent cannot open it. What each agent stored, refused and removed, and
 * what each device holds, is recorded from the command results.
 */
export function createTemplateDistributor(options: DistributorOptions) {
  const { db, keyring, registry, now } = options;
  const log = options.logger.child({ ns: 'hub:templates' });
  const lookbehindMs = options.lookbehindMs ?? 12 * 3_600_000;
  const lookaheadMs = options.lookaheadMs ?? 7 * 86_400_000;

  async function send<Op extends CommandOp>(agentId: string, op: Op, params: unknown, context: AuditContext, record: CommandRecordOptions = {}): Promise<CommandOutcome & { result?: CommandResult<Op> }> {
    return (await registry.sendCommand(agentId, op, params, context, 'template distribution', record)) as CommandOutcome & { result?: CommandResult<Op> };
  }

  async function recordDevices(tx: Queryable, campusId: string, agentId: string, devices: CommandResult<'templates.put'>['devices'], at: Date) {
    for (const device of devices) {
      await upsertDeviceSync(tx, { templateId: device.templateId, campusId, deviceId: device.deviceId, agentId, state: device.state, detail: device.detail ?? null }, at);
    }
  }

  async function deliveryFor(template: DeliverableTemplate, publicKey: X509Certificate['publicKey']): Promise<TemplateDelivery> {
    const context = templateContext({ templateId: template.id, studentId: template.studentId, finger: template.finger, format: template.format });
    const envelope = await envelopeForRecipient(db, keyring, TEMPLATE_OWNER(template.id), template.sealed, publicKey, context);
    return {
      templateId: template.id,
      studentId: template.studentId,
      deviceUserId: template.deviceUserId,
      finger: template.finger,
      format: template.format,
      envelope: encodeEnvelope(envelope).toString('base64'),
    };
  }

  /** Confirms the withdrawals of these students that wait for nothing more, with an audit entry each. */
  async function confirmWithdrawals(tx: Queryable, studentIds: string[], at: Date): Promise<void> {
    for (const studentId of await confirmableWithdrawals(tx, studentIds)) {
      await confirmRemoval(tx, studentId, at);
      await appendAudit(tx, { actor: 'system:templates', source: 'system', action: 'consent.removal_confirmed', target: `student:${studentId}`, after: { removalConfirmedAt: at.toISOString() } });
      log.info({ studentId }, 'every agent confirmed the withdrawn student\'s templates removed from its devices');
    }
  }

  /** Tells one agent to remove templates; records what it confirmed. */
  async function removeAt(agentId: string, campusId: string, templateIds: string[], context: AuditContext): Promise<{ status: AgentDistribution['status']; removed: number }> {
    let outcome: CommandOutcome & { result?: CommandResult<'templates.remove'> };
    try {
      outcome = await send(agentId, 'templates.remove', { templateIds }, context);
    } catch (error) {
      if (error instanceof UnknownAgentError) return { status: 'unknown_agent', removed: 0 };
      throw error;
    }
    if (outcome.status !== 'ok' || !outcome.result) {
      log.warn({ agentId, status: outcome.status, error: outcome.error?.message }, 'template removal not confirmed; it is asked again at the next distribution');
      return { status: outcome.status, removed: 0 };
    }
    const result = outcome.result;
    await db.transaction(async (tx) => {
      const at = new Date(now());
      await setDeliveryState(tx, result.removed, agentId, 'removed', at);
      await recordDevices(tx, campusId, agentId, result.devices, at);
      await appendAudit(tx, { ...context, action: 'templates.remove', target: `agent:${campusId}/${agentId}`, after: { asked: templateIds, removed: result.removed, devices: deviceSummary(result.devices) } });
      await confirmWithdrawals(tx, await studentsOfTemplates(tx, templateIds), at);
    });
    return { status: 'ok', removed: result.removed.length };
  }

  /** Sends every pending removal (optionally only of these templates) to its agent. */
  async function sendRemovals(context: AuditContext, templateIds?: string[]): Promise<void> {
    for (const pending of await pendingRemovals(db, templateIds)) await removeAt(pending.agentId, pending.campusId, pending.templateIds, context);
  }

  async function distributeToAgent(campusId: string, agentId: string, certificatePem: string, desired: DeliverableTemplate[], context: AuditContext): Promise<AgentDistribution> {
    const publicKey = new X509Certificate(certificatePem).publicKey;
    const kid = recipientKeyId(publicKey);
    const deliveries = new Map((await deliveriesOfAgent(db, agentId)).map((delivery) => [delivery.templateId, delivery]));
    const toSend = desired.filter((template) => {
      const delivery = deliveries.get(template.id);
      return !delivery || delivery.state !== 'stored' || delivery.recipientKid !== kid;
    });
    const wanted = new Set(desired.map((template) => template.id));
    const toRemove = [...deliveries.values()].filter((delivery) => (delivery.state === 'stored' || delivery.state === 'remove_pending') && !wanted.has(delivery.templateId));
    const report: AgentDistribution = { agentId, status: 'ok', sent: 0, stored: 0, refused: 0, removed: 0 };
    for (let start = 0; start < toSend.length; start += PUT_BATCH) {
      const batch = toSend.slice(start, start + PUT_BATCH);
      const templates = await Promise.all(batch.map((template) => deliveryFor(template, publicKey)));
      let outcome: CommandOutcome & { result?: CommandResult<'templates.put'> };
      try {
        // The record keeps which templates went, not their envelopes.
        outcome = await send(agentId, 'templates.put', { templates }, context, { params: { templateIds: batch.map((template) => template.id) } });
      } catch (error) {
        if (error instanceof UnknownAgentError) return { ...report, status: 'unknown_agent' };
        throw error;
      }
      report.sent += batch.length;
      if (outcome.status !== 'ok' || !outcome.result) return { ...report, status: outcome.status };
      const result = outcome.result;
      await db.transaction(async (tx) => {
        const at = new Date(now());
        for (const templateId of result.stored) await upsertDelivery(tx, { templateId, campusId, agentId, recipientKid: kid, state: 'stored' }, at);
        for (const refusal of result.refused) await upsertDelivery(tx, { templateId: refusal.templateId, campusId, agentId, recipientKid: kid, state: 'refused' }, at, refusal.reason);
        await recordDevices(tx, campusId, agentId, result.devices, at);
        await appendAudit(tx, {
          ...context,
          action: 'templates.distribute',
          target: `agent:${campusId}/${agentId}`,
          after: { stored: result.stored, refused: result.refused.map((refusal) => refusal.templateId), devices: deviceSummary(result.devices) },
        });
      });
      report.stored += result.stored.length;
      report.refused += result.refused.length;
    }
    if (toRemove.length > 0) {
      await db.transaction((tx) => setDeliveryState(tx, toRemove.map((delivery) => delivery.templateId), agentId, 'remove_pending', new Date(now())));
      const removal = await removeAt(agentId, campusId, toRemove.map((delivery) => delivery.templateId), context);
      report.removed = removal.removed;
      if (removal.status !== 'ok') report.status = removal.status;
    }
    return report;
  }

  /** Brings every agent of the campus (with a valid certificate) to the set of templates it should hold. */
  async function distributeToCampus(campusId: string, context: AuditContext): Promise<AgentDistribution[]> {
    const at = now();
    const desired = await templatesForCampus(db, campusId, new Date(at - lookbehindMs), new Date(at + lookaheadMs));
    const reports: AgentDistribution[] = [];
    for (const { agentId, certificatePem } of await agentCertificates(db, campusId, new Date(at))) {
      reports.push(await distributeToAgent(campusId, agentId, certificatePem, desired, context));
    }
    log.info({ campusId, templates: desired.length, agents: reports.length }, 'templates distributed');
    return reports;
  }

  return { distributeToCampus, sendRemovals, confirmWithdrawals };
}

export type TemplateDistributor = ReturnType<typeof createTemplateDistributor>;
