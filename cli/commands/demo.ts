import type { Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run hub, agent and a simulated QR scanner together, on embedded defaults',
  usage: 'demo [options]',
  options: {
    'data-dir': { type: 'string', default: './data', description: 'Where the demo keeps its databases (default ./data)' },
    'http-port': { type: 'string', default: '8080', description: 'Preferred HTTP port; a free one is used when it is taken (default 8080)' },
    'mqtt-port': { type: 'string', default: '1883', description: 'Preferred broker port; a free one is used when it is taken (default 1883)' },
    'interval-ms': { type: 'string', default: '1000', description: 'Milliseconds between simulated scans (default 1000)' },
    'log-level': { type: 'string', default: 'warn', env: 'LOG_LEVEL', description: 'Log level of the components (default warn)' },
  },
  async run(args) {
    const { runDemo } = await import('../start/demo.js');
    return runDemo(args);
  },
};
