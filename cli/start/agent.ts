import { startAgent } from '../../agent/agent.js';
import { startSystemdNotifier } from '../../agent/admin/systemd.js';
import { agentDefaults, parseDeviceSpec, type AgentConfig } from '../../agent/config.js';
import { applyConfigFile, readAgentConfigFile } from '../../agent/configFile.js';
import { identityDir, loadIdentity } from '../../agent/identity.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import pino from 'pino';
import type { ParsedArgs } from '../commands/command.js';
import { integerArg, logLevelArg, portArg, requiredArg, stringArg, untilSignal, UsageError } from './args.js';

const DEFAULT_IDS = { 'agent-id': 'agent-1', 'campus-id': 'main' } as const;

export function agentConfigFromArgs(args: ParsedArgs): AgentConfig {
  const devices = (args.values.device as string[] | undefined) ?? [];
  const dataDir = requiredArg(args, 'data-dir');
  const mqttUrl = requiredArg(args, 'mqtt-url');
  let agentId = requiredArg(args, 'agent-id');
  let campusId = requiredArg(args, 'campus-id');
  // An enrolled agent is who its certificate says; an id given on the command line must agree.
  const identity = loadIdentity(dataDir) ?? undefined;
  if (identity) {
    for (const [option, value, certified] of [['agent-id', agentId, identity.agentId], ['campus-id', campusId, identity.campusId]] as const) {
      if (value !== certified && value !== DEFAULT_IDS[option]) {
        throw new UsageError(`--${option} ${value} disagrees with the certificate in ${identityDir(dataDir)} (${certified})`);
      }
    }
    agentId = identity.agentId;
    campusId = identity.campusId;
    if (!mqttUrl.startsWith('mqtts:')) throw new UsageError(`this agent is enrolled; use an mqtts:// --mqtt-url so that its certificate is used (got ${mqttUrl})`);
  }
  const adminPort = requiredArg(args, 'admin-port');
  const config: AgentConfig = {
    ...agentDefaults(),
    agentId,
    campusId,
    mqttUrl,
    dataDir,
    devices: devices.map(parseDeviceSpec),
    ...(identity ? { identity } : {}),
    admin: adminPort === 'off' ? null : { host: '127.0.0.1', port: portArg(args, 'admin-port') },
    logLevel: logLevelArg(args),
  };
  const file = stringArg(args, 'config');
  return file ? applyConfigFile(config, readAgentConfigFile(file), config.devices) : config;
}

export async function runAgent(args: ParsedArgs): Promise<number> {
  const agent = await startAgent(agentConfigFromArgs(args));
  console.log(JSON.stringify({ ready: 'agent', outbox: agent.outbox.path, admin: agent.admin?.url ?? null }));
  // Alive: the event loop turns (the timer fires) and the outbox answers a query.
  const outboxAnswers = () => {
    try {
      agent.outbox.stats();
      return true;
    } catch {
      return false;
    }
  };
  const stopNotifier = startSystemdNotifier(outboxAnswers, pino({ name: 'campushub-agent' }));
  await untilSignal();
  stopNotifier();
  await agent.stop();
  return 0;
}

/** `campushub agent-status`: the running agent's /health, printed; exit 0 when ok, 1 when degraded, 2 when unreachable. */
export async function runAgentStatus(args: ParsedArgs): Promise<number> {
  const url = new URL('/health', requiredArg(args, 'admin-url'));
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  } catch (error) {
    console.error(`no agent answers at ${url.origin}: ${(error as Error).message}`);
    return 2;
  }
  const status = (await response.json()) as { status?: string };
  console.log(JSON.stringify(status, null, 2));
  return status.status === 'ok' ? 0 : 1;
}

/** `campushub agent-discard`: the operator's explicit, recorded deletion of undelivered events. */
export async function runAgentDiscard(args: ParsedArgs): Promise<number> {
  const range = { fromSeq: integerArg(args, 'from-seq', 1, Number.MAX_SAFE_INTEGER), toSeq: integerArg(args, 'to-seq', 1, Number.MAX_SAFE_INTEGER) };
  if (range.toSeq < range.fromSeq) throw new UsageError('--to-seq must not be below --from-seq');
  const actor = requiredArg(args, 'actor');
  const reason = requiredArg(args, 'reason');
  if (args.values.yes !== true) throw new UsageError('deleting undelivered attendance events needs --yes; they will never reach the hub');
  const outbox = new Outbox(requiredArg(args, 'data-dir'));
  try {
    const discarded = outbox.discardUndelivered(range, actor, reason);
    console.log(JSON.stringify({ discarded, ...range, actor, reason }));
    return 0;
  } finally {
    outbox.close();
  }
}
