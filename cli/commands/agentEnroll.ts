import type { Command } from './command.js';

export const agentEnrollCommand: Command = {
  name: 'agent-enroll',
  summary: 'Enroll this campus agent with the hub: make its key, get its certificate with a one-time token',
  usage: 'agent-enroll --hub URL --token TOKEN --ca-fingerprint SHA256 --agent-id ID [options]',
  options: {
    hub: { type: 'string', env: 'CAMPUSHUB_HUB_URL', description: 'The hub\'s HTTP API, e.g. https://hub.example.edu (required)' },
    token: { type: 'string', env: 'CAMPUSHUB_ENROLLMENT_TOKEN', description: 'The one-time enrollment token from the administrator (required)' },
    'ca-fingerprint': { type: 'string', env: 'CAMPUSHUB_CA_FINGERPRINT', description: 'SHA-256 of the hub CA certificate, from the administrator; enrollment stops on a mismatch (required)' },
    'agent-id': { type: 'string', env: 'CAMPUSHUB_AGENT_ID', description: 'This agent\'s id, [A-Za-z0-9_-] (required)' },
    'data-dir': { type: 'string', default: './data/agent', env: 'CAMPUSHUB_AGENT_DATA_DIR', description: 'The agent data directory; the identity goes to its identity/ folder (default ./data/agent)' },
  },
  async run(args) {
    const { runAgentEnroll } = await import('../start/agentEnroll.js');
    return runAgentEnroll(args);
  },
};
