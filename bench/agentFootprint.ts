/**
 * agent-footprint: the resident memory and CPU of one agent serving
 * --devices simulated door devices, each tapped --rate times a second, for
 * --seconds after a warm-up.
 *
 *   npm run bench -- agent-footprint [--devices 50] [--rate 2] [--seconds 60] [--zk-share 0.2] [--built]
 *
 * --built runs the agent from the `npm run build` bundle, as production does,
 * instead of from source through tsx (whose compiler adds about 30 MB).
 *
 * A share of the devices (--zk-share) are ZK terminals (realtime punches,
 * log read at connect), the rest QR readers in ACK mode. The simulators and
 * the hub (embedded broker, PGlite) run in this process; the agent in its
 * own, with its default settings, as in production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startQrScannerSimulator, type QrScannerSimulator } from '../simulators/qr/scanner.js';
import { MockZkTerminal } from '../simulators/zk/terminal.js';
import { spawnCampushub } from '../test/support/processes.js';
import { startBenchHub } from './benchHub.js';
import { cpuShare, mib, sampleProcess, type ProcessSample } from './processStats.js';
import { round } from './report.js';

/** Before measuring: the agent's start, the first log reads and the JIT settle. */
const WARM_UP_MS = 10_000;

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: 'string', default: '50' },
      rate: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '60' },
      'zk-share': { type: 'string', default: '0.2' },
      built: { type: 'boolean', default: false },
    },
  });
  const devices = Number(values.devices);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const terminalCount = Math.round(devices * Number(values['zk-share']));

  const { hub, close } = await startBenchHub('pglite');
  const agentDir = mkdtempSync(join(tmpdir(), 'campushub-bench-footprint-'));
  const terminals: MockZkTerminal[] = [];
  const scanners: QrScannerSimulator[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    for (let index = 0; index < terminalCount; index++) {
      terminals.push(await MockZkTerminal.start({ serialNumber: `FOOT${index}`, packetGapMs: 0, eventGapMs: 0, udp: false }));
    }
    for (let index = terminalCount; index < devices; index++) {
      scanners.push(await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true }));
    }
    const specs = [
      ...terminals.map((terminal, index) => `zk:door-zk-${index}=${terminal.url('tcp')}`),
      ...scanners.map((scanner, index) => `qr:door-qr-${index}=tcp://127.0.0.1:${scanner.address().port}?ack=1`),
    ];
    process.stderr.write(`starting an agent with ${terminals.length} ZK terminals and ${scanners.length} QR readers\n`);
    const agent = spawnCampushub(
      ['agent', '--agent-id', 'bench-footprint', '--campus-id', 'main', '--mqtt-url', hub.mqttUrl, '--data-dir', agentDir, ...specs.flatMap((spec) => ['--device', spec])],
      { LOG_LEVEL: 'warn' },
      { built: values.built === true },
    );
    await agent.ready;
    let taps = 0;
    // Every device taps `rate` times a second, each tap a new person, spread over the second.
    const intervalMs = 1000 / rate;
    [...terminals, ...scanners].forEach((device, index) => {
      const start = setTimeout(() => {
        timers.push(
          setInterval(() => {
            const subject = `F${index}-${taps++}`;
            if (device instanceof MockZkTerminal) device.punch(subject);
            else device.scan(subject);
          }, intervalMs),
        );
      }, (index * intervalMs) / devices);
      timers.push(start);
    });
    process.stderr.write(`warming up for ${WARM_UP_MS / 1000} s, then measuring for ${seconds} s\n`);
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    const pid = agent.child.pid!;
    const samples: ProcessSample[] = [sampleProcess(pid)];
    const tapsAtStart = taps;
    const committedAtStart = await committed(hub.db);
    for (let elapsed = 0; elapsed < seconds; elapsed++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      samples.push(sampleProcess(pid));
    }
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const tapped = taps - tapsAtStart;
    const delivered = (await committed(hub.db)) - committedAtStart;
    for (const timer of timers) clearInterval(timer);
    await agent.stop();
    return {
      benchmark: 'agent-footprint',
      node: process.version,
      cpus: availableParallelism(),
      settings: { agentFrom: values.built ? 'dist (npm run build)' : 'source (tsx)', devices, zkTerminals: terminals.length, qrReaders: scanners.length, tapsPerDevicePerSecond: rate, seconds, warmUpSeconds: WARM_UP_MS / 1000 },
      taps: { made: tapped, committedAtHub: delivered, perSecond: round(tapped / seconds) },
      agent: {
        rssMiB: { mean: mib(samples.reduce((sum, sample) => sum + sample.rssBytes, 0) / samples.length), max: mib(Math.max(...samples.map((sample) => sample.rssBytes))), peak: mib(last.peakRssBytes) },
        cpuCores: round(cpuShare(first, last)),
      },
      target: 'agent.rssMiB.max < 150',
    };
  } finally {
    for (const timer of timers) clearInterval(timer);
    await Promise.all([...terminals.map((terminal) => terminal.close()), ...scanners.map((scanner) => scanner.stop())]);
    await close();
    rmSync(agentDir, { recursive: true, force: true });
  }
}

async function committed(db: { query<T>(sql: string): Promise<{ rows: T[] }> }): Promise<number> {
  return (await db.query<{ n: number }>('select count(*)::int as n from events')).rows[0]!.n;
}
