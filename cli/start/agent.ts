import { startAgent } from '../../agent/agent.js';
import { agentDefaults, parseDeviceSpec, type AgentConfig } from '../../agent/config.js';
import type { ParsedArgs } from '../commands/command.js';
import { logLevelArg, requiredArg, untilSignal } from './args.js';

export function agentConfigFromArgs(args: ParsedArgs): AgentConfig {
  const devices = (args.values.device as string[] | undefined) ?? [];
  return {
    ...agentDefaults(),
    agentId: requiredArg(args, 'agent-id'),
    campusId: requiredArg(args, 'campus-id'),
    mqttUrl: requiredArg(args, 'mqtt-url'),
    dataDir: requiredArg(args, 'data-dir'),
    devices: devices.map(parseDeviceSpec),
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
