import { readFileSync } from 'node:fs';
import { demoStudentCodes } from '../../fixtures/students.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { SIMULATOR_KINDS } from '../commands/sim.js';
import type { ParsedArgs } from '../commands/command.js';
import { UsageError, integerArg, portArg, stringArg, untilSignal } from './args.js';

function readCodes(path: string): string[] {
  const codes = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (codes.length === 0) throw new UsageError(`${path} holds no codes (one per line)`);
  return codes;
}

export async function runSimulator(args: ParsedArgs): Promise<number> {
  const kind = args.positionals[0];
  if (kind !== 'qr') throw new UsageError(`unknown simulator ${JSON.stringify(kind ?? '')}; choose one of ${SIMULATOR_KINDS.join(', ')}`);
  const serialPath = stringArg(args, 'serial');
  const codesFile = stringArg(args, 'codes');
  const count = stringArg(args, 'count') === undefined ? undefined : integerArg(args, 'count', 1, Number.MAX_SAFE_INTEGER);
  const scanner = await startQrScannerSimulator({
    ...(serialPath ? { serialPath } : { listen: { host: stringArg(args, 'host') ?? '127.0.0.1', port: portArg(args, 'port') } }),
    ackMode: args.values.ack === true,
  });
  const stopScanning = scanner.autoScan({
    codes: codesFile ? readCodes(codesFile) : demoStudentCodes(),
    intervalMs: integerArg(args, 'interval-ms', 1, 3_600_000),
    ...(count !== undefined ? { count } : {}),
  });
  console.log(JSON.stringify({ ready: 'sim', kind, ...(serialPath ? { serial: serialPath } : { port: scanner.address().port }) }));
  await untilSignal();
  stopScanning();
  await scanner.stop();
  return 0;
}
