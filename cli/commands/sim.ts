import type { Command } from './command.js';

export const SIMULATOR_KINDS = ['qr', 'zk', 'zk-push', 'r30x'] as const;

/** Options name the kinds they apply to first; the dispatcher parses one spec for every kind. */
export const simCommand: Command = {
  name: 'sim',
  summary: 'Run a simulated door device: QR reader, ZK terminal (TCP or push), R30x fingerprint module',
  usage: 'sim <kind> [options]',
  positionals: [{ name: 'kind', description: `the device to simulate: ${SIMULATOR_KINDS.join(', ')}`, required: true }],
  options: {
    host: { type: 'string', default: '127.0.0.1', description: 'qr, zk, r30x: address to listen on (default 127.0.0.1)' },
    port: { type: 'string', description: 'qr, zk, r30x: TCP port to listen on, 0 for a free one (default 7001 for qr, 4370 for zk, 7002 for r30x)' },
    serial: {
      type: 'string',
      description: 'qr, r30x: serve on this serial device instead of TCP, e.g. one end of a socat pty pair; zk, zk-push: the terminal\'s serial number (default CH360SIM0001, CH360PUSH0001)',
    },
    codes: { type: 'string', description: 'qr: file with one code per line to scan in turn (default: the demo campus\'s student codes)' },
    'interval-ms': { type: 'string', default: '1000', description: 'qr: milliseconds between scans (default 1000)' },
    count: { type: 'string', description: 'qr, zk, zk-push, r30x: stop scanning, punching or touching after this many (default: never)' },
    ack: { type: 'boolean', default: false, description: 'qr: wait for the host\'s ACK (0x06) after each scan and resend on NAK or reconnect' },
    users: { type: 'string', description: 'zk, zk-push: CSV (userId,name per line) or JSON ([{"userId","name"}]) file of the terminal\'s users (default: five demo students)' },
    'punch-interval-ms': { type: 'string', description: 'zk, zk-push: milliseconds between punches by the users in turn (default: none for zk, 5000 for zk-push)' },
    'hub-url': { type: 'string', description: 'zk-push: where the terminal pushes, an agent\'s zk-push receiver, e.g. http://127.0.0.1:8081 (required)' },
    enrolled: { type: 'string', description: 'r30x: library slots 0 to N-1 hold enrolled fingers (default 5)' },
    'touch-interval-ms': { type: 'string', description: 'r30x: milliseconds between touches of the enrolled fingers in turn, each held for half of it (default: no touches)' },
  },
  async run(args) {
    const { runSimulator } = await import('../start/sim.js');
    return runSimulator(args);
  },
};
