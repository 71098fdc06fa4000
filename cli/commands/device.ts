import { DRIVER_KINDS } from '../../drivers/index.js';
import type { Command } from './command.js';

export const DEVICE_ACTIONS = ['info', 'users', 'logs', 'time', 'templates', 'watch'] as const;

export const deviceCommand: Command = {
  name: 'device',
  summary: 'Ask one door device directly, through the agent\'s drivers: info, users, logs, time, templates, watch',
  usage: 'device <info|users|logs|time|templates|watch> <kind>:<url> [options]',
  positionals: [
    {
      name: 'action',
      description: 'info (identity, capabilities, link counters), users, logs (the attendance log), time, templates, or watch (live taps and scans until Ctrl-C)',
      required: true,
    },
    {
      name: 'device',
      description: `KIND:URL, the agent's --device without the id, e.g. zk:tcp://10.0.0.5:4370?commKey=123; kinds: ${DRIVER_KINDS.join(', ')}`,
      required: true,
    },
  ],
  options: {
    json: { type: 'boolean', default: false, description: 'Print one JSON document (watch: one JSON line per event) instead of text' },
    'timeout-ms': { type: 'string', default: '10000', description: 'How long to wait for the device to become ready, in ms (default 10000)' },
    since: { type: 'string', description: 'logs only: records from this time on: an ISO date or date-time in this host\'s zone, or an age such as 90m, 24h, 7d' },
    set: { type: 'string', description: 'time only: set the device clock to `now` (this host\'s clock) or an ISO date-time, then read it back' },
    count: { type: 'string', description: 'watch only: exit after this many events; later ones are refused, so the device keeps them (default: until Ctrl-C)' },
  },
  async run(args) {
    const { runDevice } = await import('../start/device.js');
    return runDevice(args);
  },
};
