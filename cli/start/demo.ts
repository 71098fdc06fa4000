import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import { demoStudentCodes } from '../../fixtures/students.js';
import { startHub } from '../../hub/app.js';
import { hubDefaults } from '../../hub/config.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import type { ParsedArgs } from '../commands/command.js';
import { integerArg, logLevelArg, portArg, requiredArg, untilSignal } from './args.js';
import { prepareDemoCampus } from './demoCampus.js';

/** The preferred port when it is free on 127.0.0.1, else 0 so that the OS picks one. */
async function preferredOrFree(port: number): Promise<number> {
  if (port === 0) return 0;
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(0));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort(port)));
  });
}

/**
 * The whole system on embedded defaults: a hub (PGlite, embedded broker), one
 * agent, and a simulated QR scanner at door-101 that scans a student code
 * every second. Development mode: the broker takes unauthenticated agents.
 */
export async function runDemo(args: ParsedArgs): Promise<number> {
  const dataDir = resolve(requiredArg(args, 'data-dir'));
  const logLevel = logLevelArg(args);
  const adminToken = randomBytes(18).toString('base64url');
  const hubConfig = hubDefaults();
  const hub = await startHub({
    ...hubConfig,
    http: { ...hubConfig.http, host: '127.0.0.1', port: await preferredOrFree(portArg(args, 'http-port')) },
    // Development mode, said so below: plain MQTT that any client may use.
    broker: { ...hubConfig.broker, host: '127.0.0.1', port: await preferredOrFree(portArg(args, 'mqtt-port')), security: 'development' },
    database: { url: undefined, dataDir: join(dataDir, 'hub') },
    adminToken,
    logLevel,
  });
  await prepareDemoCampus(hub, Date.now);
  const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
  const defaults = agentDefaults();
  const agent = await startAgent({
    ...defaults,
    // The embedded broker (aedes) speaks MQTT 3.1.1 only; asking for 5 first would only cost a refused handshake.
    uplink: { ...defaults.uplink, mqttVersion: 4 },
    agentId: 'demo-agent',
    campusId: 'main',
    mqttUrl: hub.mqttUrl,
    dataDir: join(dataDir, 'agent'),
    devices: [{ id: 'door-101', kind: 'qr', url: `tcp://127.0.0.1:${scanner.address().port}?ack=1` }],
    logLevel,
  });
  const intervalMs = integerArg(args, 'interval-ms', 10, 3_600_000);
  const stopScanning = scanner.autoScan({ codes: demoStudentCodes(), intervalMs });

  console.log(
    [
      '',
      'CampusHub360 Attendance demo (development mode: unauthenticated MQTT, a generated admin token)',
      '',
      `  Hub API        ${hub.httpUrl}`,
      `  Health         ${hub.httpUrl}/healthz`,
      `  MQTT broker    ${hub.mqttUrl}  (development mode: MQTT is unauthenticated; \`campushub hub\` uses mutual TLS)`,
      `  Admin token    ${adminToken}`,
      `  Data           ${dataDir}`,
      '',
      `A simulated QR reader at door-101 scans a student code every ${intervalMs / 1000} s. See the taps arrive:`,
      '',
      `  curl -H "authorization: Bearer ${adminToken}" "${hub.httpUrl}/api/v1/events?limit=5"`,
      `  curl -H "authorization: Bearer ${adminToken}" "${hub.httpUrl}/api/v1/sessions?state=open"`,
      '',
      `The taps land in the open session of room R101 (a generated college of 240 students and a demo class that meets every hour).`,
      `The API reference is at ${hub.httpUrl}/docs.`,
      `  curl -H "authorization: Bearer ${adminToken}" ${hub.httpUrl}/metrics`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  console.log(JSON.stringify({ ready: 'demo', httpUrl: hub.httpUrl, mqttUrl: hub.mqttUrl, adminToken }));
  await untilSignal();
  console.log('stopping…');
  stopScanning();
  await agent.stop();
  await scanner.stop();
  await hub.stop();
  return 0;
}
