import type { Command } from './command.js';

export const SIMULATOR_KINDS = ['qr'] as const;

export const simCommand: Command = {
  name: 'sim',
  summary: 'Run a simulated door device',
  usage: 'sim <kind> [options]',
  positionals: [{ name: 'kind', description: `the device to simulate: ${SIMULATOR_KINDS.join(', ')}`, required: true }],
  options: {
    host: { type: 'string', default: '127.0.0.1', description: 'Address to listen on (default 127.0.0.1)' },
    port: { type: 'string', default: '7001', description: 'TCP port to listen on, like a serial device server in raw mode (default 7001)' },
    serial: { type: 'string', description: 'Write to this serial device instead of listening on TCP, e.g. one end of a socat pty pair' },
    codes: { type: 'string', description: 'File with one code per line to scan in turn (default: the demo campus\'s student codes)' },
    'interval-ms': { type: 'string', default: '1000', description: 'Milliseconds between scans (default 1000)' },
    count: { type: 'string', description: 'Stop after this many scans (default: never)' },
    ack: { type: 'boolean', default: false, description: 'Wait for the host\'s ACK (0x06) after each scan and resend on NAK or reconnect' },
  },
  async run(args) {
    const { runSimulator } = await import('../start/sim.js');
    return runSimulator(args);
  },
};
