import { startAgent } from '../../agent/agent.js';
import { agentDefaults, parseDeviceSpec, type AgentConfig } from '../../agent/config.js';
import { identityDir, loadIdentity } from '../../agent/identity.js';
import type { ParsedArgs } from '../commands/command.js';
import { logLevelArg, requiredArg, untilSignal, UsageError } from './args.js';

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
  return {
    ...agentDefaults(),
    agentId,
    campusId,
    mqttUrl,
    dataDir,
    devices: devices.map(parseDeviceSpec),
    ...(identity ? { identity } : {}),
    logLevel: logLevelArg(args),
  };
}

export async function runAgent(args: ParsedArgs): Promise<number> {
  const agent = await startAgent(agentConfigFromArgs(args));
  console.log(JSON.stringify({ ready: 'agent', outbox: agent.outbox.path }));
  await untilSignal();
  await agent.stop();
  return 0;
}
