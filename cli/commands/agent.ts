import type { Command } from './command.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'Run a campus agent: door devices in, durable outbox, MQTT to the hub',
  usage: 'agent [options]',
  options: {
    'agent-id': { type: 'string', default: 'agent-1', env: 'CAMPUSHUB_AGENT_ID', description: 'This agent\'s id, [A-Za-z0-9_-] (default agent-1)' },
    'campus-id': { type: 'string', default: 'main', env: 'CAMPUSHUB_CAMPUS_ID', description: 'The campus this agent serves (default main)' },
    'mqtt-url': { type: 'string', default: 'mqtt://127.0.0.1:1883', env: 'MQTT_URL', description: 'The hub\'s broker (default mqtt://127.0.0.1:1883)' },
    'data-dir': { type: 'string', default: './data/agent', env: 'CAMPUSHUB_AGENT_DATA_DIR', description: 'Where the outbox lives (default ./data/agent)' },
    device: {
      type: 'string',
      multiple: true,
      description: 'A door device as KIND:ID=URL, repeatable, e.g. qr:door-204=tcp://127.0.0.1:7001?ack=1',
    },
    config: {
      type: 'string',
      env: 'CAMPUSHUB_AGENT_CONFIG',
      description: 'A JSON agent config file: devices and settings (deploy/agent.example.json); options given here win',
    },
    'admin-port': {
      type: 'string',
      default: '8181',
      env: 'CAMPUSHUB_AGENT_ADMIN_PORT',
      description: 'Port of the local admin server on 127.0.0.1 (health, metrics, devices, backlog); 0 any free port, off none (default 8181)',
    },
    'log-level': { type: 'string', default: 'info', env: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent (default info)' },
  },
  async run(args) {
    const { runAgent } = await import('../start/agent.js');
    return runAgent(args);
  },
};

export const agentStatusCommand: Command = {
  name: 'agent-status',
  summary: 'Show a running agent\'s health, backlog, disk, devices and clocks from its local admin server',
  usage: 'agent-status [--admin-url URL]',
  options: {
    'admin-url': { type: 'string', default: 'http://127.0.0.1:8181', env: 'CAMPUSHUB_AGENT_ADMIN_URL', description: 'The agent\'s admin server (default http://127.0.0.1:8181)' },
  },
  async run(args) {
    const { runAgentStatus } = await import('../start/agent.js');
    return runAgentStatus(args);
  },
};

export const agentDiscardCommand: Command = {
  name: 'agent-discard',
  summary: 'Delete undelivered events from an agent\'s outbox, for good, recording who and why (the only way they leave unacknowledged)',
  usage: 'agent-discard --from-seq N --to-seq M --actor NAME --reason TEXT --yes [--data-dir DIR]',
  options: {
    'data-dir': { type: 'string', default: './data/agent', env: 'CAMPUSHUB_AGENT_DATA_DIR', description: 'Where the outbox lives (default ./data/agent)' },
    'from-seq': { type: 'string', description: 'First outbox sequence number to delete (see /backlog and the outbox) (required)' },
    'to-seq': { type: 'string', description: 'Last outbox sequence number to delete (required)' },
    actor: { type: 'string', description: 'Who decided this, recorded with the discard (required)' },
    reason: { type: 'string', description: 'Why, recorded with the discard (required)' },
    yes: { type: 'boolean', default: false, description: 'Confirm: these attendance events will never reach the hub' },
  },
  async run(args) {
    const { runAgentDiscard } = await import('../start/agent.js');
    return runAgentDiscard(args);
  },
};
